#pragma once

#include <functional>
#include <string>
#include <vector>

namespace tykhook::cli {

/// The files that the CAPTURE arguments of `verify` and `replay` stand for: a file (or `-`) as
/// it is; a directory (a capture directory of `listen`) as its regular files in name order,
/// less hidden ones (an interrupted run's ".NAME.tmp"). A directory that cannot be listed, or
/// holds no file, is passed to `unreadable` as (input, message) and stands for none.
[[nodiscard]] std::vector<std::string> files_of(
    const std::vector<std::string>& inputs,
    const std::function<void(const std::string&, const std::string&)>& unreadable);

}  // namespace tykhook::cli
