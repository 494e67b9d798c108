#pragma once

#include <string>
#include <vector>

#include "tykhook/request.h"
#include "tykhook/signature.h"

namespace tykhook {

/// Tests likely causes of a `signature_mismatch` against `request` and `secrets`, and returns
/// one line for each that fits, naming its evidence ("the signature matches the body without
/// its final newline: ..."). For diagnosis only: nothing here makes a delivery authentic, and
/// no line holds a secret or a signature. Empty when the header is missing or malformed, or no
/// cause fits.
[[nodiscard]] std::vector<std::string> explain_mismatch(const Request& request,
                                                        const std::vector<Secret>& secrets);

}  // namespace tykhook
