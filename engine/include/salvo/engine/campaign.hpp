#pragma once
/// What a job sends, prepared from its job_config without sending: the
/// compiled message (templates against a source's columns and the job's
/// globals, headers, unsubscribe headers, attachments) and the request
/// writer that renders rows into Injection API request bodies. job::create()
/// uses these, and so do tools that render without sending (`salvo preview`,
/// `salvo validate`).

#include <salvo/engine/job.hpp>
#include <salvo/engine/validate.hpp>
#include <salvo/injection/message.hpp>
#include <salvo/injection/request_writer.hpp>
#include <salvo/merge/template.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace salvo::engine {

/// Opens the job's recipients file as its `recipients` keys say (path,
/// format, encoding, delimiter). `chunk_bytes` 0 keeps the source's default.
/// Errors name the key or the file.
[[nodiscard]] boost::system::result<std::unique_ptr<recipient_source>, run_error> open_recipients(
    const job_config& job, std::size_t chunk_bytes = 0);

/// The validator the job's keys ask for (email and name columns, dedupe,
/// the suppression list) over `source`'s fields. The suppression list, when
/// the job has one, is loaded into `suppressed`, which must outlive the
/// validator. Errors name the column or the file.
[[nodiscard]] boost::system::result<validator, run_error> make_validator(
    const job_config& job, const recipient_source& source,
    std::unique_ptr<suppression_list>& suppressed);

/// The MailingId the campaign's emails carry, so that delivery events join
/// back to it: `message.mailing_id` when the job sets one, else
/// "salvo-" and 16 hex digits of a hash of the job file's and the results
/// file's absolute paths (stable across resumes, distinct per campaign).
[[nodiscard]] std::string campaign_mailing_id(const job_config& job);

/// The built-in per-row field holding the one-click unsubscribe token
/// (base64url, platform::make_unsubscribe_token over the campaign's
/// MailingId and the row's address), present when the job sets
/// `unsubscribe.secret_env`. compile_message() adds it as the column after
/// the source's last; the job fills it for every row it renders.
inline constexpr const char* unsubscribe_token_field = "salvo_unsubscribe_token";

/// The job's message compiled against a set of columns.
struct compiled_message {
    injection::message_spec spec;
    /// A hash of the attachments' names and contents (part of a campaign's identity).
    std::uint64_t attachments_hash = 0;
    /// Literal stretches that look like mistyped placeholders, over every template.
    std::vector<merge::compile_warning> warnings;
};

/// Compiles every template of `job.message` (and `unsubscribe`) against
/// `columns` and `job.globals`. Every email gets a MailingId
/// (campaign_mailing_id) and, when the job sets no `message.message_id`, a
/// per-row MessageId "<mailing id>-<address>" (the email column; addresses
/// are unique per campaign under dedupe), so each event finds its row.
/// Then, as before: it compiles
/// `columns` (a source's field keys) and `job.globals`, and reads the
/// attachments. Errors: a template error (unknown field, bad placeholder),
/// an unreadable attachment — the message names the template or file.
/// Pure: reads the attachment files, nothing else.
[[nodiscard]] boost::system::result<compiled_message, run_error> compile_message(
    const job_config& job, const std::vector<std::string>& columns);

/// The request writer for a compiled message: `server_id` from the job, the
/// key given (or, when empty, resolved from api_key_env / api_key_file), the
/// job's merge mode and limits. Errors name the key or file, never a key.
[[nodiscard]] boost::system::result<std::shared_ptr<const injection::request_writer>, run_error>
make_request_writer(const job_config& job, injection::message_spec spec, std::string api_key);

}  // namespace salvo::engine
