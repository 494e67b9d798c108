#pragma once

#include <string>

namespace tykhook {

/// The versions of the libraries this build of tykhook uses, for bug reports: those loaded at
/// run time as they report themselves (OpenSSL, SQLite), the others as compiled in, e.g.
/// "OpenSSL 3.0.11, SQLite 3.40.1, hiredis 0.14.1, simdjson 3.0.1, nlohmann/json 3.11.2".
[[nodiscard]] std::string dependency_versions();

}  // namespace tykhook
