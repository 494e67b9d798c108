#include "tykhook/version.h"

#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <simdjson.h>
#include <sqlite3.h>

#include <nlohmann/json.hpp>

namespace tykhook {
namespace {

std::string dotted(int major, int minor, int patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace

std::string dependency_versions() {
  return "OpenSSL " + std::string(OpenSSL_version(OPENSSL_VERSION_STRING)) + ", SQLite " +
         sqlite3_libversion() + ", hiredis " + dotted(HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH) +
         ", simdjson " +
         dotted(simdjson::SIMDJSON_VERSION_MAJOR, simdjson::SIMDJSON_VERSION_MINOR,
                simdjson::SIMDJSON_VERSION_REVISION) +
         ", nlohmann/json " +
         dotted(NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
                NLOHMANN_JSON_VERSION_PATCH);
}

}  // namespace tykhook
