// The words the receiver answers with: the verdicts (DESIGN.md's table, in its order, then the
// receiver's own outcomes) and the portal's events, for the filters and the chart's order.

export const verdicts = [
  'ok', 'malformed_request', 'too_large', 'missing_signature', 'malformed_signature',
  'signature_mismatch', 'malformed_json', 'invalid_envelope', 'unknown_event', 'schema_violation',
  'stale', 'duplicate', 'rejected', 'error',
];

export const events = [
  'RegisterInvite', 'UserRegistered', 'UserAccountActivated', 'UserAccountDeactivated',
  'PasswordReset', 'ApplicationRegistered', 'CredentialRegistered', 'AccessRequestCreated',
  'AccessRequestApproved', 'AccessRequestRejected', 'OrganisationRegistered',
  'OrganisationRequestCreated', 'OrganisationRequestApproved', 'OrganisationRequestRejected',
];

// Queue states after which nothing happens without a retry.
export const settled_states = new Set(['done', 'dead']);
