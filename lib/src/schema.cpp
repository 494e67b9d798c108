#include "tykhook/schema.h"

#include <cerrno>
#include <cstddef>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>
#include <vector>

#include "embedded_schemas.h"
#include "json_error_text.h"
#include "schema_errors.h"
#include "schema_walk.h"
#include "tykhook/error.h"
#include "tykhook/timestamp.h"

namespace tykhook {
namespace {

using nlohmann::json;

// One event's schema: the document as written, where in a Message its date-times are, and
// valijson's compiled form of it without the date-time formats. valijson's form is built by the
// first validation that needs it: most deliveries pass the verifier's fast path, which plans
// from the document alone (schema_plan.h), and never get here.
struct CompiledSchema {
  json document;
  std::vector<detail::Path> date_times;
  std::once_flag checker_once;
  std::unique_ptr<const valijson::Schema> checker;
};

// Reads and checks the schema document `text`; throws tykhook::Error starting with `where`
// when it is not JSON, not a schema, or has a "$ref" that valijson would crash on. The "$ref"
// checks are skipped for an embedded schema (`embedded`): its file in schemas/ passes them in
// tests/schema_test.cpp ("from_directory loads schemas/"), and they cost as much as its parse.
std::unique_ptr<CompiledSchema> load(const std::string& where, std::string_view text,
                                     bool embedded) {
  auto compiled = std::make_unique<CompiledSchema>();
  try {
    compiled->document = json::parse(text);
  } catch (const json::exception& e) {
    throw Error(where + ": not valid JSON: " + std::string(detail::without_json_tag(e.what())));
  }
  if (!compiled->document.is_object() && !compiled->document.is_boolean()) {
    throw Error(where + ": expected a JSON Schema (an object or a boolean), got " +
                std::string(detail::json_type_name(compiled->document)));
  }
  if (!embedded) detail::check_references(compiled->document, where);
  compiled->date_times = detail::date_time_paths(compiled->document);
  return compiled;
}

// valijson's form of a document that load() accepted, built once; throws tykhook::Error
// starting with `where` when valijson cannot compile it (then the next call tries again).
const valijson::Schema& checker_of(CompiledSchema& compiled, const std::string& where) {
  std::call_once(compiled.checker_once, [&] {
    json stripped = compiled.document;
    detail::strip_date_time_formats(stripped);
    auto checker = std::make_unique<valijson::Schema>();
    try {
      valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
      const valijson::adapters::NlohmannJsonAdapter adapter(stripped);
      parser.populateSchema(adapter, *checker);
    } catch (const std::exception& e) {
      throw Error(where + ": not a valid draft-07 schema: " +
                  detail::lower_first(std::string(detail::without_json_tag(e.what()))));
    }
    compiled.checker = std::move(checker);
  });
  return *compiled.checker;
}

std::string schema_file_name(Event event) { return std::string(to_string(event)) + ".schema.json"; }

std::string read_schema_file(const std::filesystem::path& file) {
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (!std::filesystem::exists(status)) {
    throw Error(file.string() + ": no such file; the directory needs one " +
                "<WireEventName>.schema.json per event");
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw Error(file.string() + ": not a regular file");
  }
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad() || text.bad()) {
    const int error = errno;
    throw Error(file.string() +
                ": cannot read: " + detail::lower_first(std::generic_category().message(error)));
  }
  return std::move(text).str();
}

// Checks `message` with valijson, then its date-times with is_date_time().
std::vector<std::string> check(const CompiledSchema& compiled, const valijson::Schema& checker,
                               const json& message) {
  std::vector<std::string> errors;
  // One per thread: a Validator caches the regexes of "pattern" and is not safe to share.
  thread_local valijson::Validator validator;
  const valijson::adapters::NlohmannJsonAdapter target(message);
  // Most deliveries are valid: a pass that stops at the first violation decides, and only a
  // failed one pays for a second pass that collects every violation.
  if (!validator.validate(checker, target, nullptr)) {
    valijson::ValidationResults results;
    validator.validate(checker, target, &results);
    errors = detail::describe_all(compiled.document, message, results);
    // A "false" schema fails without a word; an error valijson made up is no error at all.
    if (errors.empty() && results.numErrors() == 0) {
      errors.push_back(std::string(detail::message_pointer) + ": not allowed by the schema");
    }
  }
  for (const detail::Path& path : compiled.date_times) {
    detail::check_date_times(message, path, errors);
  }
  return errors;
}

}  // namespace

struct SchemaRegistry::Impl {
  // One event's schema, read and checked the first time it is needed (embedded()), or at once
  // (from_directory()).
  struct Entry {
    std::string where;      // names the schema in errors: "embedded X.schema.json", a path
    std::string_view text;  // the text to load; empty once loaded
    bool embedded = false;
    std::once_flag once;
    std::unique_ptr<CompiledSchema> compiled;
  };
  // Indexed by the Event's value; all_events() lists them in enum order.
  std::vector<Entry> entries;
  // From a directory: the events it had no file for, which use the embedded schema.
  std::vector<Event> built_in;

  explicit Impl(std::size_t count) : entries(count) {}

  // The schema of the event at `index` (< entries.size()), loaded once: concurrent first
  // callers wait for one load, later ones only test the flag. Throws what load() throws; the
  // next call then tries again.
  CompiledSchema& compiled(std::size_t index) {
    Entry& entry = entries[index];
    std::call_once(entry.once, [&entry] {
      entry.compiled = load(entry.where, entry.text, entry.embedded);
      entry.text = {};
    });
    return *entry.compiled;
  }
};

SchemaRegistry::SchemaRegistry(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SchemaRegistry::~SchemaRegistry() = default;

std::string_view SchemaRegistry::embedded_text(Event event) {
  const std::string name = schema_file_name(event);
  for (const auto& file : detail::embedded_schemas()) {
    if (file.name == name) return file.text;
  }
  throw Error("embedded schemas: " + name + " is missing; add schemas/" + name + " and rebuild");
}

std::shared_ptr<const SchemaRegistry> SchemaRegistry::embedded() {
  // Compiling a schema costs far more than a validation, and a process meets few events (a
  // `tykhook verify` of one capture, one): each is compiled the first time it is needed. The
  // embedded schemas cannot fail to compile in a working build (tests/schema_test.cpp compiles
  // every one), so nothing that start-up would report is deferred. A missing file is a broken
  // build; the exception propagates and the next call tries again.
  static const std::shared_ptr<const SchemaRegistry> registry = [] {
    auto impl = std::make_unique<Impl>(all_events().size());
    for (const Event event : all_events()) {
      Impl::Entry& entry = impl->entries.at(static_cast<std::size_t>(event));
      entry.where = "embedded " + schema_file_name(event);
      entry.text = embedded_text(event);
      entry.embedded = true;
    }
    return std::shared_ptr<const SchemaRegistry>(new SchemaRegistry(std::move(impl)));
  }();
  return registry;
}

std::shared_ptr<const SchemaRegistry> SchemaRegistry::from_directory(
    const std::filesystem::path& dir) {
  // A user's schemas are compiled completely here, valijson's form included, so that every
  // error in them is reported at start-up rather than on the first delivery.
  // An event without a file keeps its built-in schema, so that changing one schema takes one
  // file; a directory with none of them is a wrong path.
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw Error(dir.string() + ": no such directory; give a directory of " +
                "<WireEventName>.schema.json files, e.g. a copy of share/tykhook/schemas/");
  }
  auto impl = std::make_unique<Impl>(all_events().size());
  for (const Event event : all_events()) {
    const auto index = static_cast<std::size_t>(event);
    const std::filesystem::path file = dir / schema_file_name(event);
    Impl::Entry& entry = impl->entries.at(index);
    if (!std::filesystem::exists(std::filesystem::symlink_status(file, ec))) {
      entry.where = "embedded " + schema_file_name(event);
      entry.text = embedded_text(event);
      entry.embedded = true;
      impl->built_in.push_back(event);
      continue;
    }
    const std::string text = read_schema_file(file);
    entry.where = file.string();
    entry.text = text;
    checker_of(impl->compiled(index), entry.where);
  }
  if (impl->built_in.size() == all_events().size()) {
    throw Error(dir.string() + ": holds no <WireEventName>.schema.json file (e.g. " +
                schema_file_name(Event::UserRegistered) + "); check the path");
  }
  return std::shared_ptr<const SchemaRegistry>(new SchemaRegistry(std::move(impl)));
}

const std::vector<Event>& SchemaRegistry::built_in_events() const { return impl_->built_in; }

std::vector<std::string> SchemaRegistry::validate(Event event,
                                                  const nlohmann::json& message) const {
  // A delivery's content causes values, never exceptions (STYLE.md): whatever valijson or
  // nlohmann throw becomes a violation.
  try {
    const auto index = static_cast<std::size_t>(event);
    if (index >= impl_->entries.size()) {
      return {std::string(detail::message_pointer) + ": no schema for event number " +
              std::to_string(index)};
    }
    CompiledSchema& compiled = impl_->compiled(index);
    return check(compiled, checker_of(compiled, impl_->entries[index].where), message);
  } catch (const std::exception& e) {
    return {std::string(detail::message_pointer) +
            ": cannot be checked against the schema: " + e.what()};
  } catch (...) {
    return {std::string(detail::message_pointer) + ": cannot be checked against the schema"};
  }
}

const nlohmann::json& SchemaRegistry::schema(Event event) const {
  const auto index = static_cast<std::size_t>(event);
  if (index >= impl_->entries.size()) {
    throw std::invalid_argument("SchemaRegistry::schema: event number " + std::to_string(index) +
                                " is not in the catalogue");
  }
  return impl_->compiled(index).document;
}

}  // namespace tykhook
