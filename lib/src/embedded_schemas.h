#pragma once

#include <span>
#include <string_view>

namespace tykhook::detail {

/// A file embedded into the library at build time.
struct EmbeddedFile {
  std::string_view name;  ///< file name, e.g. "UserRegistered.schema.json"
  std::string_view text;  ///< its bytes
};

/// The files of `schemas/`, embedded by cmake/embed_files.cmake.
std::span<const EmbeddedFile> embedded_schemas();

/// The files of `samples/bodies/` (one wire body per event, e.g. "UserRegistered.json"),
/// embedded by cmake/embed_files.cmake.
std::span<const EmbeddedFile> embedded_samples();

/// The files of `lib/ui/` (the inspector's page: "index.html", "app.js", ...), embedded by
/// cmake/embed_files.cmake.
std::span<const EmbeddedFile> embedded_ui();

}  // namespace tykhook::detail
