// The inspector page.
