// The salvo command line: CLI11 parsing, then one subcommand (commands.hpp).
#include "bench_command.hpp"
#include "commands.hpp"

#include <salvo/emulator/options.hpp>
#include <salvo/engine/job_config.hpp>
#include <salvo/receiver/server.hpp>

#include <fmt/core.h>
#include <CLI/CLI.hpp>

#include <charconv>
#include <cstring>
#include <exception>
#include <filesystem>

namespace {

// Secrets never travel on a command line (shell history, `ps`).
bool refuse_secret_option(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) return false;
        for (const char* name : {"--secret-key", "--validation-key"}) {
            const std::size_t n = std::strlen(name);
            if (std::strncmp(argv[i], name, n) == 0 && (argv[i][n] == '\0' || argv[i][n] == '=')) {
                fmt::print(stderr,
                           "salvo: there is no {0} option: a secret on the command line ends up "
                           "in shell history and in `ps`.\n"
                           "Put it in an environment variable named by {0}-env, or in a file "
                           "named by {0}-file.\n",
                           name);
                return true;
            }
        }
        if (std::strcmp(argv[i], "--api-key") == 0 ||
            std::strncmp(argv[i], "--api-key=", 10) == 0) {
            fmt::print(stderr,
                       "salvo: there is no --api-key option: a key on the command line ends up in "
                       "shell history and in `ps`.\n"
                       "Put it in an environment variable named by the job's \"api_key_env\" "
                       "(default SOCKETLABS_API_KEY), or in a file named by \"api_key_file\".\n");
            return true;
        }
    }
    return false;
}

// The sample campaign: in the source tree when built there, else where
// `cmake --install` put it (PREFIX/share/salvo/samples/campaign).
std::filesystem::path default_campaign_dir() {
    namespace fs = std::filesystem;
    const fs::path source = fs::path(SALVO_SOURCE_DIR) / "samples/campaign";
    std::error_code ec;
    if (fs::exists(source / "job.json", ec)) return source;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path installed = exe.parent_path().parent_path() / "share/salvo/samples/campaign";
        if (fs::exists(installed / "job.json", ec)) return installed;
    }
    return source;
}

salvo::cli::progress_mode progress_from(const std::string& s) {
    if (s == "json") return salvo::cli::progress_mode::json;
    if (s == "none") return salvo::cli::progress_mode::none;
    return salvo::cli::progress_mode::automatic;
}

}  // namespace

int main(int argc, char** argv) {
    namespace cli = salvo::cli;
    if (refuse_secret_option(argc, argv)) return cli::exit_usage;

    CLI::App app{"salvo: bulk mail-merge and injection for the SocketLabs Injection API"};
    app.set_version_flag("--version", "salvo " SALVO_VERSION);
    app.require_subcommand(1);
    app.footer(
        "Examples:\n"
        "  salvo demo                        send the sample campaign to an in-process emulator\n"
        "  salvo validate job.json           check the job, its templates and every row\n"
        "  salvo preview job.json --rows 2   render two rows without sending\n"
        "  salvo send job.json               run the campaign (resumes when run again)\n"
        "  salvo emulate                     a local Injection API on 127.0.0.1:8465\n"
        "  salvo listen                      receive Event Webhooks on 127.0.0.1:8466\n"
        "  salvo status job.json --json      the campaign's delivery funnel\n"
        "  salvo bench --rows 100000         measure end-to-end throughput\n"
        "  salvo help job-file               every job-file key, as Markdown\n"
        "Each subcommand's --help lists its own examples and exit codes.");

    // send
    cli::send_args send;
    std::string send_progress = "auto";
    auto* s = app.add_subcommand("send", "Run a campaign: every row ends accepted or reported");
    s->add_option("job", send.job_file, "The job file (JSON)")
        ->required()
        ->check(CLI::ExistingFile);
    s->add_option("--endpoint", send.endpoint, "Injection API URL (job key endpoint)");
    s->add_option("--merge", send.merge, "local or server (job key merge)");
    s->add_option("--rate", send.rate, "Emails per second, 0 = unlimited (rate.emails_per_second)");
    s->add_option("--max-in-flight", send.max_in_flight, "Requests in flight (rate.max_in_flight)");
    s->add_option("--results", send.results, "Results file (NDJSON, one line per row)");
    s->add_option("--journal", send.journal, "Journal file (makes a run resumable)");
    s->add_option("--set", send.sets, "Set any job key: key.path=value (repeatable)")
        ->allow_extra_args(false);
    auto* restart = s->add_flag("--restart", send.restart,
                                "Move the old journal and results aside, start over");
    s->add_flag("--retry-failed", send.retry_failed,
                "Send again the rows whose status is failed or unknown, replacing their lines")
        ->excludes(restart);
    s->add_flag("--accept-changed-source", send.accept_changed_source,
                "recipients.marketing_list changed since the campaign started: send only the "
                "contacts no row has decided yet (matched by address)")
        ->excludes(restart);
    s->add_option("--report", send.report_file, "Write the summary as JSON to this file");
    s->add_option("--progress", send_progress, "auto, json or none")
        ->check(CLI::IsMember({"auto", "json", "none"}));
    s->add_option("--proof", send.proof,
                  "Send the first row(s) to these addresses only (comma-separated), outside "
                  "the journal");
    s->add_option("--proof-rows", send.proof_rows, "Rows to send as proofs (default 1)");
    s->add_option("--shard", send.shard,
                  "Send only shard K/N of the rows (K from 0 to N-1; job key shard); results and "
                  "journal get .shard-K-of-N in their names");
    s->add_option("--shard-count", send.shard_count,
                  "Send shard K of N, K from the environment variable JOB_COMPLETION_INDEX (a "
                  "Kubernetes Indexed Job sets it)");
    s->footer(
        "Examples:\n"
        "  salvo send job.json --rate 200        # the key in SOCKETLABS_API_KEY\n"
        "  salvo send job.json --shard 2/8        # one of 8 processes; see salvo shards report\n"
        "  salvo send job.json --proof me@example.com,boss@example.com\n"
        "  salvo send job.json --set retry.max_attempts=3 --report summary.json\n"
        "  salvo send job.json --retry-failed     # after a run that ended with exit code 1\n"
        "Exit codes: 0 every row accepted (or invalid, duplicate, suppressed); 1 some rows\n"
        "rejected, failed or unknown (--retry-failed sends failed and unknown again); 2 a\n"
        "usage or job error, nothing sent; 3 stopped early (Ctrl-C, auto-pause, refused\n"
        "credentials): the same command resumes.");

    // shards report
    cli::shards_report_args shards;
    auto* sh = app.add_subcommand("shards", "Check the shards of a sharded campaign together");
    sh->require_subcommand(1);
    auto* shr = sh->add_subcommand(
        "report", "Sum the N shards' results and check every row is decided in exactly one");
    shr->add_option("job", shards.job_file, "The job file (JSON), as the shards ran it")
        ->required()
        ->check(CLI::ExistingFile);
    shr->add_option("--of", shards.of, "How many shards the campaign was cut into (N)")
        ->required()
        ->check(CLI::Range(1u, 1000000u));
    shr->add_flag("--json", shards.json, "Print the summary as one JSON object");
    shr->add_option("--set", shards.sets, "Set any job key: key.path=value (as the shards had)")
        ->allow_extra_args(false);
    shr->footer(
        "Reads results.shard-K-of-N.ndjson for K = 0..N-1 (the job's results path with\n"
        ".shard-K-of-N inserted) and the recipients file.\n"
        "Examples:\n"
        "  salvo shards report job.json --of 8\n"
        "  salvo shards report job.json --of 8 --json > totals.json\n"
        "Exit codes: 0 every row decided in exactly one shard, none rejected, failed or\n"
        "unknown; 1 rows missing (a shard not finished or not run) or decided twice, or some\n"
        "rows rejected, failed or unknown; 2 a usage or job error, or a results file that\n"
        "cannot be read.");

    // emulate
    cli::emulate_args emu;
    emu.listen = "127.0.0.1:" + std::to_string(salvo::emulator::default_port);
    auto* e = app.add_subcommand("emulate", "Run a local Injection API emulator until Ctrl-C");
    e->add_option("--listen", emu.listen, "ADDR:PORT (default 127.0.0.1:8465; port 0 = any)");
    e->add_option("--record", emu.record, "Append every accepted email to this NDJSON file");
    e->add_option("--server-id", emu.server_id, "Accept only this ServerId (default: any)");
    e->add_option("--api-key-env", emu.api_key_env,
                  "Accept only the key in this environment variable (default: any non-empty)");
    e->add_option("--threads", emu.threads, "I/O threads (default 2)");
    e->add_flag("--discard", emu.discard, "Answer Success without parsing (benchmarks)");
    e->add_option("--fault", emu.faults,
                  "KIND[:RATE][@AFTER][xTIMES][~MS], e.g. http_503:0.2, reset_after_body@10x1, "
                  "delay:0.05~1500 (~MS: this rule's delay; default --delay-ms)")
        ->allow_extra_args(false);
    e->add_option("--pause", emu.pause,
                  "DURATION@AFTER, e.g. 30s@500: after 500 requests the endpoint goes down "
                  "(connections refused and closed) for 30 s, then listens again");
    e->add_option("--fail-rate", emu.fail_rates, "STATUS:RATE, e.g. 503:0.2 or 429:0.1")
        ->allow_extra_args(false);
    e->add_option("--retry-after", emu.retry_after, "Retry-After seconds for 429 (default 1)");
    e->add_option("--reject-pattern", emu.reject_pattern,
                  "Addresses matching this regex get InvalidAddress");
    e->add_option("--delay-ms", emu.delay_ms, "Delay every answer by this many milliseconds");
    e->add_option("--seed", emu.seed, "Fault seed (default 1)");
    auto* tls_cert =
        e->add_option("--tls-cert", emu.tls_cert, "Serve HTTPS with this PEM certificate (chain)")
            ->check(CLI::ExistingFile);
    auto* tls_key = e->add_option("--tls-key", emu.tls_key, "The PEM private key of --tls-cert")
                        ->check(CLI::ExistingFile);
    tls_cert->needs(tls_key);
    tls_key->needs(tls_cert);
    e->add_option("--events-url", emu.events_url,
                  "Post delivery events for accepted emails here, e.g. "
                  "http://127.0.0.1:8466/notifications; several URLs separated by commas "
                  "(replicas): posts go to each in turn, a failed post is retried on the next");
    e->add_option("--events-secret-env", emu.events_secret_env,
                  "Environment variable holding the receiver's SecretKey");
    e->add_option("--events-validation-key-env", emu.events_validation_key_env,
                  "Environment variable holding the Validation Key the handshake must return");
    e->add_option("--events-format", emu.events_format, "json (default) or form (legacy)")
        ->check(CLI::IsMember({"json", "form"}));
    e->add_option("--events-per-second", emu.events_per_second, "Posts per second (0: unlimited)");
    e->add_option("--events-connections", emu.events_connections,
                  "Posts in flight at once, each on its own connection (default 4)")
        ->check(CLI::Range(1, 256));
    e->add_option("--hard-bounce-rate", emu.hard_bounce_rate,
                  "Share of emails hard-bouncing (0.02)");
    e->add_option("--soft-bounce-rate", emu.soft_bounce_rate, "... soft-bouncing (0.02)");
    e->add_option("--deferral-rate", emu.deferral_rate,
                  "... deferred (0.03); the rest is delivered");
    e->add_option("--complaint-rate", emu.complaint_rate, "Of delivered: complaints (0.01)");
    e->add_option("--open-rate", emu.open_rate, "Of delivered: opens (0.3)");
    e->add_option("--click-rate", emu.click_rate, "Of delivered: clicks (0.1)");
    e->add_option("--unsubscribe-rate", emu.unsubscribe_rate, "Of delivered: unsubscribes (0.01)");
    e->add_option("--events-seed", emu.events_seed, "Seed of the event draws (default 1)");
    e->add_flag("--events-shuffle", emu.events_shuffle, "Post events out of order");
    e->add_option("--inbound-url", emu.inbound_url,
                  "Post inbound mail (replies, auto-replies, DSNs, ARF complaints, unsubscribe "
                  "mails) for a share of accepted emails here, e.g. http://127.0.0.1:8466/inbound");
    e->add_option("--inbound-secret-env", emu.inbound_secret_env,
                  "Environment variable holding the receiver's SecretKey for --inbound-url");
    e->add_option("--inbound-validation-key-env", emu.inbound_validation_key_env,
                  "Environment variable holding the Validation Key the inbound handshake must "
                  "return");
    e->add_option("--reply-rate", emu.reply_rate, "Share of emails answered by a person (0)")
        ->check(CLI::Range(0.0, 1.0));
    e->add_option("--auto-reply-rate", emu.auto_reply_rate, "... by an out-of-office (0)")
        ->check(CLI::Range(0.0, 1.0));
    e->add_option("--dsn-rate", emu.dsn_rate, "... bounced back as a DSN, 5.1.1 (0)")
        ->check(CLI::Range(0.0, 1.0));
    e->add_option("--arf-rate", emu.arf_rate, "... reported as an ARF complaint (0)")
        ->check(CLI::Range(0.0, 1.0));
    e->add_option("--unsubscribe-reply-rate", emu.unsubscribe_reply_rate,
                  "... answered \"unsubscribe\" to the List-Unsubscribe mailto (0); the five "
                  "add up to at most 1")
        ->check(CLI::Range(0.0, 1.0));
    e->add_option("--inbound-seed", emu.inbound_seed, "Seed of the inbound draws (default 1)");
    e->add_option("--marketing-data", emu.marketing_data,
                  "Marketing API lists and contacts: loaded from this JSON file (if it exists) "
                  "and written back at exit");
    e->add_option("--max-contacts", emu.max_contacts,
                  "Marketing API: contacts the account may hold (403 beyond; 0: no limit)");
    e->add_option("--marketing-api-key-env", emu.marketing_api_key_env,
                  "Marketing API: accept only the key in this variable (default: any)");
    e->add_option("--reporting-user", emu.reporting_user,
                  "Reporting API: accept only this user name (default: any)");
    e->add_option("--reporting-api-key-env", emu.reporting_api_key_env,
                  "Reporting API: accept only the key in this variable (default: any)");
    e->add_option("--report-forget", emu.report_forget,
                  "Reporting API: leave the first N accepted emails out of messagesProcessed");
    e->add_option("--report-invent", emu.report_invent,
                  "Reporting API: add N processed messages that never arrived");
    e->footer(
        "The first line on stdout is the URL it listens on (https://... with --tls-cert).\n"
        "A client must trust the certificate: for a self-signed one, salvo send\n"
        "--set tls.ca_file=CERT.pem (job key tls.ca_file).\n"
        "Examples:\n"
        "  salvo emulate --listen 127.0.0.1:0 --record emails.ndjson\n"
        "  salvo emulate --listen localhost:8465 --fault http_503:0.2\n"
        "  salvo emulate --listen [::1]:0 --events-url http://127.0.0.1:8466/notifications\n"
        "Exit codes: 0 stopped by Ctrl-C or SIGTERM; 2 a usage error or the address is taken.");

    // preview
    std::filesystem::path preview_job;
    std::vector<std::string> preview_sets;
    std::size_t preview_rows = 3;
    std::string preview_out;
    bool preview_request = false;
    auto* p = app.add_subcommand("preview", "Render the first rows without sending");
    p->add_option("job", preview_job, "The job file")->required()->check(CLI::ExistingFile);
    p->add_option("--rows", preview_rows, "Rows to render (default 3)");
    p->add_option("--out", preview_out, "Write each as DIR/row-N.eml instead of printing");
    p->add_flag("--request", preview_request, "Print the JSON request body (key as ****)");
    p->add_option("--set", preview_sets, "Set any job key: key.path=value")
        ->allow_extra_args(false);
    p->footer(
        "With --request, stdout is the JSON body alone (the URL and headers go to stderr).\n"
        "Examples:\n"
        "  salvo preview job.json --rows 2\n"
        "  salvo preview job.json --request | jq .Messages[0].Subject\n"
        "  salvo preview job.json --rows 5 --out eml/   # open eml/row-1.eml in a mail client\n"
        "Exit codes: 0 rendered (rows that would not be sent are listed); 2 a job error.");

    // validate
    std::filesystem::path validate_job;
    std::vector<std::string> validate_sets;
    auto* v = app.add_subcommand("validate", "Check the job, its templates and every row");
    v->add_option("job", validate_job, "The job file")->required()->check(CLI::ExistingFile);
    v->add_option("--set", validate_sets, "Set any job key: key.path=value")
        ->allow_extra_args(false);
    v->footer(
        "Examples:\n"
        "  salvo validate job.json\n"
        "  salvo validate job.json --set recipients.path=other.csv\n"
        "Exit codes: 0 every row valid; 1 some rows invalid, duplicate or suppressed;\n"
        "2 a job or template error (warnings do not change the code).");

    // demo
    std::filesystem::path campaign = default_campaign_dir();
    auto* d = app.add_subcommand("demo", "Send the sample campaign to an in-process emulator");
    d->add_option("--campaign", campaign, "Folder holding job.json (default: samples/campaign)")
        ->check(CLI::ExistingDirectory);
    d->footer(
        "Examples:\n"
        "  salvo demo\n"
        "  salvo demo --campaign my-campaign/\n"
        "Exit codes: as salvo send: 0 every row accepted (or invalid, duplicate, suppressed);\n"
        "1 some rejected or failed; 2 the campaign cannot be read; 3 stopped early.");

    // listen
    cli::listen_args lis;
    auto* l =
        app.add_subcommand("listen", "Receive SocketLabs Event Webhooks into an event database");
    l->add_option("config", lis.config_file, "A JSON file with the same keys (optional)")
        ->check(CLI::ExistingFile);
    l->add_option("--listen", lis.listen, "ADDR:PORT (default 127.0.0.1:8466; port 0 = any)");
    l->add_option("--db", lis.db,
                  "The event database: a SQLite file (default events.sqlite), or a PostgreSQL URL "
                  "postgresql://[user@]host[:port]/dbname (password from PGPASSWORD or PGPASSFILE, "
                  "never in the URL) shared by several replicas");
    l->add_option("--secret-key-env", lis.secret_key_env,
                  "Environment variable holding the endpoint's SecretKey "
                  "(default SALVO_LISTEN_SECRET_KEY)");
    l->add_option("--secret-key-file", lis.secret_key_file, "Or a file holding it");
    l->add_option("--validation-key-env", lis.validation_key_env,
                  "Environment variable holding the Validation Key "
                  "(default SALVO_LISTEN_VALIDATION_KEY)");
    l->add_option("--validation-key-file", lis.validation_key_file, "Or a file holding it");
    l->add_option("--server-id", lis.server_id, "Accept only events of this ServerId");
    l->add_option("--tls-cert", lis.tls_cert, "Serve HTTPS with this PEM certificate (chain)")
        ->check(CLI::ExistingFile);
    l->add_option("--tls-key", lis.tls_key, "The PEM private key of --tls-cert")
        ->check(CLI::ExistingFile);
    l->add_option("--threads", lis.threads, "I/O threads (default 2)");
    l->add_option("--inbound-dir", lis.inbound_dir,
                  "Inbound API folder: attachments/<sha256> and spool/ (default: the database "
                  "path + .inbound)");
    l->add_option("--unsubscribe-secret-env", lis.unsubscribe_secret_env,
                  "Environment variable holding the one-click unsubscribe secret (the job's "
                  "unsubscribe.secret_env); enables /unsubscribe");
    l->add_option("--unsubscribe-secret-file", lis.unsubscribe_secret_file, "Or a file holding it");
    l->add_option("--unsubscribe-mailto", lis.unsubscribe_mailto,
                  "The campaigns' unsubscribe.mailto address (repeatable): mail to it "
                  "unsubscribes its sender");
    l->add_option("--on-reply", lis.on_reply,
                  "Run this command for every human reply, the message's JSON on its standard "
                  "input; split into words like a shell's but run without one (write "
                  "\"sh -c '...'\" for pipes); never delays the answer");
    l->add_option("--forward-url", lis.forward_url,
                  "Re-POST every human reply's JSON to this URL (with the transport's retries)");
    l->add_option("--reply-concurrency", lis.reply_concurrency,
                  "Commands / forwards of replies at once (default 2)")
        ->check(CLI::Range(1, 64));
    l->add_option("--reply-timeout", lis.reply_timeout,
                  "Seconds an --on-reply command may run before it is killed (default 30)")
        ->check(CLI::Range(1, 3600));
    l->add_option("--reply-attempts", lis.reply_attempts,
                  "Runs of a failing --on-reply command (default 3)")
        ->check(CLI::Range(1, 100));
    l->add_option("--soft-bounce-count", lis.soft_bounce_count,
                  "Suppress after this many soft bounces (default 3; 0 = never)");
    l->add_option("--soft-bounce-days", lis.soft_bounce_days,
                  "... within this many days (default 30)");
    l->footer(
        "The first line on stdout is the base URL; SocketLabs posts to BASE/notifications.\n"
        "Examples:\n"
        "  salvo listen --listen 0.0.0.0:8466 --db events.sqlite   # keys from\n"
        "      SALVO_LISTEN_SECRET_KEY and SALVO_LISTEN_VALIDATION_KEY\n"
        "  salvo listen listen.json --listen [::1]:0\n"
        "Exit codes: 0 stopped by Ctrl-C or SIGTERM; 2 a usage error, a missing key or the\n"
        "address is taken.");

    // status
    cli::status_args st;
    auto* stc =
        app.add_subcommand("status", "A campaign's delivery funnel from the received events");
    stc->add_option("job", st.job_file, "The job file")->required()->check(CLI::ExistingFile);
    stc->add_option("--db", st.db,
                    "The event database, a SQLite file or a postgresql:// URL (default: the "
                    "job's suppression db, else events.sqlite)");
    stc->add_flag("--json", st.json, "Print one JSON object");
    stc->add_option("--rows", st.rows_file, "Write each results line with its delivery state");
    stc->add_option("--set", st.sets, "Set any job key: key.path=value")->allow_extra_args(false);
    stc->footer(
        "Examples:\n"
        "  salvo status job.json\n"
        "  salvo status job.json --db events.sqlite --json\n"
        "  salvo status job.json --rows rows.ndjson   # each row with its delivery state\n"
        "Exit codes: 0 printed; 2 a job error, or no results file or event database.");

    // suppressions
    cli::suppressions_args sup;
    auto* sp = app.add_subcommand("suppressions", "Export, add or remove suppressed addresses");
    sp->add_option("action", sup.action, "export, add or remove")
        ->required()
        ->check(CLI::IsMember({"export", "add", "remove"}));
    sp->add_option("addresses", sup.addresses, "Addresses to add or remove");
    sp->add_option("--db", sup.db, "The event database: a SQLite file or a postgresql:// URL")
        ->required();
    sp->add_option("--file", sup.file, "add/remove: a file of addresses, one per line");
    sp->add_option("--reason", sup.reason, "add: the reason recorded (default manual)");
    sp->add_option("--out", sup.out, "export: write to this file instead of stdout");
    sp->add_flag("--with-reason", sup.with_reason, "export: address,reason lines");
    sp->add_flag("--with-source", sup.with_source,
                 "export: address,reason,source lines (source: event, dsn, arf, inbound-reply, "
                 "one-click, manual)");
    sp->footer(
        "Examples:\n"
        "  salvo suppressions export --db events.sqlite --with-reason --out suppressed.csv\n"
        "  salvo suppressions add ann@example.com --db events.sqlite --reason asked\n"
        "  salvo suppressions remove --file unblock.txt --db events.sqlite\n"
        "Exit codes: 0 done; 2 a usage error or the database cannot be opened.");

    // help
    std::string help_topic;
    auto* h = app.add_subcommand("help", "Print a reference: job-file (every job-file key)");
    h->add_option("topic", help_topic, "job-file")->required()->check(CLI::IsMember({"job-file"}));
    h->footer(
        "Examples:\n"
        "  salvo help job-file > job-file.md\n"
        "Exit codes: 0 printed; 2 an unknown topic.");

    // bench: the harness runs from its subcommand's callback (bench_command.cpp).
    int bench_exit = 0;
    cli::add_bench_command(app, bench_exit);

    // lists
    cli::lists_args lst;
    auto* ls =
        app.add_subcommand("lists",
                           "The Marketing API's contact lists: ls, export ID, push FILE --list ID, "
                           "unsubscribe --db events.sqlite");
    ls->add_option("action", lst.action, "ls, export, push or unsubscribe")
        ->required()
        ->check(CLI::IsMember({"ls", "export", "push", "unsubscribe"}));
    ls->add_option("target", lst.file, "export: the list id; push: the contacts file");
    ls->add_option("--list", lst.list_id, "push: the list id");
    ls->add_option("--job", lst.job_file,
                   "A job file: server_id, marketing.endpoint, marketing.api_key_env/_file, "
                   "rate, retry, timeouts, tls")
        ->check(CLI::ExistingFile);
    ls->add_option("--set", lst.sets, "Set any job key: key.path=value")->allow_extra_args(false);
    ls->add_option("--page-size", lst.page_size, "Contacts per page read (1-1000, default 1000)");
    ls->add_flag("--json", lst.json, "ls: print a JSON array");
    ls->add_option("--out", lst.out, "export: write to this file instead of stdout");
    ls->add_option("--format", lst.format, "export: ndjson (default) or csv")
        ->check(CLI::IsMember({"ndjson", "csv"}));
    ls->add_option("--fields", lst.fields,
                   "push: the columns sent as custom fields, comma-separated (default: every "
                   "column but the address and names)");
    ls->add_option("--email-column", lst.email_column, "push: the address column (email)");
    ls->add_option("--first-name-column", lst.first_name_column, "push: (first_name)");
    ls->add_option("--last-name-column", lst.last_name_column, "push: (last_name)");
    ls->add_option("--results", lst.results,
                   "push: one NDJSON line per contact (default push-results.ndjson)");
    ls->add_option("--db", lst.db, "unsubscribe: the event database salvo listen fills");
    ls->add_option("--since", lst.since,
                   "unsubscribe: only entries added since YYYY-MM-DD[THH:MM:SSZ] (UTC)");

    // reconcile
    cli::reconcile_args rec;
    auto* rc = app.add_subcommand(
        "reconcile", "Compare the ledger and the events with the platform's Reporting API");
    rc->add_option("job", rec.job_file, "The job file")->required()->check(CLI::ExistingFile);
    rc->add_option("--set", rec.sets, "Set any job key: key.path=value")->allow_extra_args(false);
    rc->add_option("--db", rec.db, "The event database (default: the job's suppression db)");
    rc->add_flag("--json", rec.json, "Print one JSON object");
    rc->add_option("--examples", rec.examples, "Examples of each disagreement (default 10)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& err) {
        const int code = app.exit(err);
        return code == 0 ? 0 : cli::exit_usage;
    } catch (const std::exception& ex) {
        fmt::print(stderr, "salvo: {}\n", ex.what());
        return cli::exit_usage;
    }
    if (app.got_subcommand("bench")) return bench_exit;
    try {
        if (*s) {
            send.progress = progress_from(send_progress);
            return cli::run_send(send);
        }
        if (*e) return cli::run_emulate(emu);
        if (*l) return cli::run_listen(lis);
        if (*stc) return cli::run_status(st);
        if (*sp) return cli::run_suppressions(sup);
        if (*ls) {
            if (lst.action == "export" || lst.action == "push") {
                if (lst.file.empty()) {
                    fmt::print(stderr, "salvo lists {}: give the {}\n", lst.action,
                               lst.action == "export" ? "list id" : "contacts file");
                    return cli::exit_usage;
                }
                if (lst.action == "export") {
                    const auto& t = lst.file;
                    const auto [ptr, ec] =
                        std::from_chars(t.data(), t.data() + t.size(), lst.list_id);
                    if (ec != std::errc{} || ptr != t.data() + t.size()) {
                        fmt::print(stderr, "salvo lists export: {}: expected a list id\n", t);
                        return cli::exit_usage;
                    }
                } else if (lst.list_id == 0) {
                    fmt::print(stderr, "salvo lists push: give the list with --list ID\n");
                    return cli::exit_usage;
                }
            }
            if (lst.action == "unsubscribe" && lst.db.empty()) {
                fmt::print(stderr, "salvo lists unsubscribe: give the event database with --db\n");
                return cli::exit_usage;
            }
            return cli::run_lists(lst);
        }
        if (*rc) return cli::run_reconcile(rec);
        if (*p)
            return cli::run_preview(preview_job, preview_sets, preview_rows, preview_out,
                                    preview_request);
        if (*v) return cli::run_validate(validate_job, validate_sets);
        if (*shr) return cli::run_shards_report(shards);
        if (*d) return cli::run_demo(campaign);
        if (*h) {
            fmt::print("{}", salvo::engine::job_file_reference());
            return cli::exit_ok;
        }
    } catch (const std::exception& ex) {
        fmt::print(stderr, "salvo: {}\n", ex.what());
        return cli::exit_usage;
    }
    return cli::exit_ok;
}
