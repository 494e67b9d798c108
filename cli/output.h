#pragma once

#include <string>

#include "tykhook/verifier.h"

namespace tykhook::cli {

/// Prints one verdict on standard output in the format of `tykhook verify` (DESIGN.md, "CLI
/// contract"): `text` is "INPUT: verdict (Event): error" with further errors indented below,
/// `json` one object per line {input, ok, verdict, event, errors}.
void print_verdict(const std::string& input, const Verdict& verdict, const std::string& format);

}  // namespace tykhook::cli
