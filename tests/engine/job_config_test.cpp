// The job file: every documented key, overrides, and errors that name the key.
#include <salvo/engine/job_config.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <utility>

namespace salvo::engine {
namespace {

namespace fs = std::filesystem;

class JobConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        std::random_device rd;
        dir_ = fs::temp_directory_path() / ("salvo-job-" + std::to_string(rd()));
        fs::create_directories(dir_);
        write("body.txt", "Hi %%first_name|friend%%");
        write("body.html", "<p>Hi %%first_name|friend%%</p>");
        write("logo.png", "\x89PNG");
    }
    void TearDown() override { fs::remove_all(dir_); }

    void write(const std::string& name, const std::string& content) {
        std::ofstream(dir_ / name, std::ios::binary) << content;
    }

    boost::system::result<job_config, job_error> load(const std::string& json,
                                                      std::vector<std::string> sets = {}) {
        write("job.json", json);
        return load_job_file(dir_ / "job.json", sets);
    }

    fs::path dir_;
};

// The complete example of samples/campaign/job.json (and of issue 7), without its notes.
const char* full_job = R"({
  "endpoint": "https://inject.socketlabs.com/api/v1/email",
  "server_id": 12345,
  "api_key_env": "SOCKETLABS_API_KEY",
  "recipients": { "path": "recipients.csv", "format": "csv", "email": "email", "name": "name", "encoding": "utf-8" },
  "message": { "from": {"email": "news@example.com", "name": "Example News"},
               "reply_to": {"email": "help@example.com"},
               "subject": "Hello %%first_name|friend%%",
               "text": {"file": "body.txt"}, "html": {"file": "body.html"},
               "mailing_id": "nov-2026", "message_id": "%%customer_id%%",
               "headers": {"X-Campaign": "nov"},
               "attachments": [{"file": "logo.png", "content_id": "logo"}] },
  "unsubscribe": { "url": "https://example.com/u/%%customer_id:url%%", "mailto": "unsub@example.com" },
  "global": { "company": "ACME" },
  "merge": "local",
  "html_escape": true,
  "missing_field": "empty",
  "dedupe": true,
  "suppression": "suppressed.txt",
  "limits": { "messages_per_request": 10, "recipients_per_message": 50, "max_request_bytes": 10485760 },
  "rate": { "emails_per_second": 0, "requests_per_second": 0, "max_in_flight": 16 },
  "retry": { "max_attempts": 6, "base_delay_ms": 1000, "max_delay_ms": 30000, "ambiguous": "resend" },
  "timeouts": { "connect_ms": 10000, "request_ms": 120000 },
  "tls": { "ca_file": "", "insecure": false },
  "proxy": "",
  "auto_pause": { "failure_share": 0.5, "window_requests": 200 },
  "results": "results.ndjson",
  "journal": "campaign.journal" })";

TEST_F(JobConfigTest, ReadsEveryDocumentedKey) {
    auto job = load(full_job);
    ASSERT_TRUE(job) << job.error().message;
    EXPECT_EQ(job->server_id, "12345");
    EXPECT_EQ(job->recipients.path, dir_ / "recipients.csv");
    EXPECT_EQ(job->recipients.format, "csv");
    EXPECT_EQ(job->message.from.email, "news@example.com");
    EXPECT_EQ(job->message.from.name, "Example News");
    ASSERT_TRUE(job->message.reply_to);
    EXPECT_EQ(job->message.reply_to->email, "help@example.com");
    EXPECT_EQ(job->message.subject.content, "Hello %%first_name|friend%%");
    EXPECT_EQ(job->message.text.content, "Hi %%first_name|friend%%");
    EXPECT_EQ(job->message.html.content, "<p>Hi %%first_name|friend%%</p>");
    EXPECT_EQ(job->message.html.origin, (dir_ / "body.html").string());
    EXPECT_EQ(job->message.message_id, "%%customer_id%%");
    ASSERT_EQ(job->message.headers.size(), 1u);
    EXPECT_EQ(job->message.headers[0].first, "X-Campaign");
    ASSERT_EQ(job->message.attachments.size(), 1u);
    EXPECT_EQ(job->message.attachments[0].content_id, "logo");
    EXPECT_EQ(job->message.attachments[0].name, "logo.png");
    EXPECT_EQ(job->unsubscribe.mailto, "unsub@example.com");
    ASSERT_EQ(job->globals.size(), 1u);
    EXPECT_EQ(job->globals[0].value, "ACME");
    EXPECT_EQ(job->merge, merge_mode::local);
    ASSERT_EQ(job->suppression.size(), 1u);
    EXPECT_EQ(job->suppression[0].type, suppression_source::kind::file);
    EXPECT_EQ(job->suppression[0].path, dir_ / "suppressed.txt");
    EXPECT_EQ(job->limits.max_request_bytes, 10485760u);
    EXPECT_EQ(job->rate.max_in_flight, 16u);
    EXPECT_EQ(job->retry.max_attempts, 6u);
    EXPECT_EQ(job->retry.ambiguous, ambiguous_policy::resend);
    EXPECT_EQ(job->timeouts.request_ms, 120000u);
    EXPECT_DOUBLE_EQ(job->auto_pause.failure_share, 0.5);
    EXPECT_EQ(job->results, dir_ / "results.ndjson");
    EXPECT_EQ(job->journal, dir_ / "campaign.journal");
}

TEST_F(JobConfigTest, OverridesUseTheSameKeys) {
    auto job =
        load(full_job, {"retry.max_attempts=3", "merge=server", "rate.emails_per_second=250.5",
                        "global.company=Initech", "message.headers.X-Extra=1",
                        "retry.ambiguous=hold", "endpoint=http://127.0.0.1:1/api/v1/email"});
    ASSERT_TRUE(job) << job.error().message;
    EXPECT_EQ(job->retry.max_attempts, 3u);
    EXPECT_EQ(job->merge, merge_mode::server);
    EXPECT_DOUBLE_EQ(job->rate.emails_per_second, 250.5);
    EXPECT_EQ(job->globals[0].value, "Initech");
    EXPECT_EQ(job->message.headers.size(), 2u);
    EXPECT_EQ(job->retry.ambiguous, ambiguous_policy::hold);
    EXPECT_EQ(job->endpoint, "http://127.0.0.1:1/api/v1/email");
}

TEST_F(JobConfigTest, RateAndRetryKnobsAreReachableFromTheFileAndSet) {
    auto job = load(full_job,
                    {"retry.give_up_after=30s", "retry.budget_ratio=0.5", "rate.burst_seconds=2.5",
                     "rate.emails_per_minute=600", "rate.emails_per_hour=10000",
                     "rate.emails_per_day=50000", "rate.adaptive=true"});
    ASSERT_TRUE(job) << job.error().message;
    EXPECT_EQ(job->retry.give_up_after, std::chrono::seconds(30));
    EXPECT_DOUBLE_EQ(job->retry.budget_ratio, 0.5);
    EXPECT_DOUBLE_EQ(job->rate.burst_seconds, 2.5);
    EXPECT_EQ(job->rate.emails_per_minute, 600u);
    EXPECT_EQ(job->rate.emails_per_hour, 10000u);
    EXPECT_EQ(job->rate.emails_per_day, 50000u);
    EXPECT_TRUE(job->rate.adaptive);
    // Defaults: ten minutes, and a count high enough for 50 % 503s.
    auto plain = load(full_job);
    ASSERT_TRUE(plain) << plain.error().message;
    EXPECT_EQ(plain->retry.give_up_after, std::chrono::minutes(10));
    EXPECT_GE(plain->retry.max_attempts, 6u);
}

TEST_F(JobConfigTest, GiveUpAfterTakesSecondsOrAUnit) {
    const std::pair<const char*, std::chrono::milliseconds> cases[] = {
        {"retry.give_up_after=10m", std::chrono::minutes(10)},
        {"retry.give_up_after=90", std::chrono::seconds(90)},
        {"retry.give_up_after=500ms", std::chrono::milliseconds(500)},
        {"retry.give_up_after=1h", std::chrono::hours(1)},
        {"retry.give_up_after=1.5s", std::chrono::milliseconds(1500)}};
    for (const auto& [set, expected] : cases) {
        auto job = load(full_job, {set});
        ASSERT_TRUE(job) << set << ": " << job.error().message;
        EXPECT_EQ(job->retry.give_up_after, expected) << set;
    }
    const std::string in_file = std::string(full_job).replace(
        std::string(full_job).find("\"retry\": {"), 10, "\"retry\": {\"give_up_after\": 45, ");
    auto from_file = load(in_file);
    ASSERT_TRUE(from_file) << from_file.error().message;
    EXPECT_EQ(from_file->retry.give_up_after, std::chrono::seconds(45));
    for (const char* bad : {"retry.give_up_after=soon", "retry.give_up_after=10x",
                            "retry.give_up_after=0", "retry.budget_ratio=2"}) {
        auto job = load(full_job, {bad});
        EXPECT_FALSE(job) << bad;
    }
}

TEST_F(JobConfigTest, UnknownKeyIsNamedWithItsNeighbours) {
    const std::string json = std::string(full_job).replace(
        std::string(full_job).find("\"retry\": {"), 10, "\"retry\": {\"max_atempts\": 2, ");
    auto job = load(json);
    ASSERT_FALSE(job);
    EXPECT_EQ(job.error().key, "retry.max_atempts");
    EXPECT_NE(job.error().message.find("job.json: retry.max_atempts: unknown key"),
              std::string::npos)
        << job.error().message;
    EXPECT_NE(job.error().message.find("max_attempts"), std::string::npos);
}

TEST_F(JobConfigTest, WrongTypeIsNamed) {
    auto job = load(R"({"recipients": "r.csv", "message": {"from": "a@x.io", "subject": "s",
                       "text": "t"}, "rate": {"max_in_flight": "many"}})");
    ASSERT_FALSE(job);
    EXPECT_EQ(job.error().key, "rate.max_in_flight");
    EXPECT_NE(job.error().message.find("expected a whole number, got \"many\""), std::string::npos)
        << job.error().message;
}

TEST_F(JobConfigTest, BadOverrideIsNamed) {
    auto job = load(full_job, {"retry.max_attempts=lots"});
    ASSERT_FALSE(job);
    EXPECT_EQ(job.error().key, "retry.max_attempts");
    EXPECT_NE(job.error().message.find("--set: retry.max_attempts"), std::string::npos);
    auto job2 = load(full_job, {"no_equals_sign"});
    ASSERT_FALSE(job2);
    EXPECT_NE(job2.error().message.find("expected key.path=value"), std::string::npos);
}

TEST_F(JobConfigTest, MissingTemplateFileIsNamed) {
    fs::remove(dir_ / "body.html");
    auto job = load(full_job);
    ASSERT_FALSE(job);
    EXPECT_EQ(job.error().key, "message.html");
    EXPECT_NE(job.error().message.find("body.html"), std::string::npos) << job.error().message;
}

TEST_F(JobConfigTest, RequiredKeys) {
    auto job = load(R"({"recipients": "r.csv", "message": {"from": "a@x.io", "subject": "s"}})");
    ASSERT_FALSE(job);
    EXPECT_NE(job.error().message.find("needs \"text\" or \"html\""), std::string::npos);
    auto job2 = load(R"({"message": {"from": "a@x.io", "subject": "s", "text": "t"}})");
    ASSERT_FALSE(job2);
    EXPECT_EQ(job2.error().key, "recipients");
}

TEST_F(JobConfigTest, EndpointMustBeAnHttpUrl) {
    for (const char* bad : {"x", "inject.socketlabs.com/api/v1/email", "ftp://h/p"}) {
        auto job = load(full_job, {std::string("endpoint=") + bad});
        ASSERT_FALSE(job) << bad;
        EXPECT_EQ(job.error().key, "endpoint");
        EXPECT_NE(job.error().message.find("must be an http:// or https:// URL"), std::string::npos)
            << job.error().message;
    }
    EXPECT_TRUE(load(full_job, {"endpoint=HTTPS://127.0.0.1:1/api/v1/email"}));
    EXPECT_TRUE(load(full_job, {"endpoint=http://127.0.0.1:1/api/v1/email"}));
}

TEST_F(JobConfigTest, ApiKeyIsNeverAcceptedInTheFile) {
    auto job = load(R"({"api_key": "secret-value-123", "recipients": "r.csv",
                       "message": {"from": "a@x.io", "subject": "s", "text": "t"}})");
    ASSERT_FALSE(job);
    EXPECT_NE(job.error().message.find("api_key_env"), std::string::npos);
    EXPECT_EQ(job.error().message.find("secret-value-123"), std::string::npos);
}

TEST_F(JobConfigTest, InvalidJsonSaysSo) {
    auto job = load("{\"recipients\": \"r.csv\", // a note\n}");
    ASSERT_FALSE(job);
    EXPECT_NE(job.error().message.find("not valid JSON"), std::string::npos);
    EXPECT_NE(job.error().message.find("comments are not allowed"), std::string::npos);
}

// Issue 18: a syntax error says where it is, as template errors do.
TEST_F(JobConfigTest, InvalidJsonNamesLineAndColumn) {
    auto job = load("{\n  \"server_id\": 4242\n  \"recipients\": \"r.csv\"\n}");
    ASSERT_FALSE(job);
    EXPECT_NE(job.error().message.find("job.json: not valid JSON"), std::string::npos)
        << job.error().message;
    EXPECT_NE(job.error().message.find("(at line 3, column 3)"), std::string::npos)
        << job.error().message;
    auto trailing = load("{\"a\": 1,\n}");
    ASSERT_FALSE(trailing);
    EXPECT_NE(trailing.error().message.find("(at line 2, column 1)"), std::string::npos)
        << trailing.error().message;
}

TEST_F(JobConfigTest, UnknownKeySuggestsTheNearestOne) {
    const auto with = [&](std::string_view member) {
        return std::string(full_job).replace(std::string(full_job).find("\"dedupe\""), 0,
                                             std::string(member) + ", ");
    };
    auto typo = load(with(R"("supression": "x.txt")"));
    ASSERT_FALSE(typo);
    EXPECT_NE(typo.error().message.find("supression: unknown key; did you mean \"suppression\"?"),
              std::string::npos)
        << typo.error().message;
    // A name from elsewhere says how salvo spells it, and names no option
    // that does not exist.
    auto other = load(with(R"("email_column": "mail")"));
    ASSERT_FALSE(other);
    EXPECT_NE(other.error().message.find("email_column: unknown key; salvo spells it "
                                         "recipients.email"),
              std::string::npos)
        << other.error().message;
    auto far = load(with(R"("zzzzzz": 1)"));
    ASSERT_FALSE(far);
    EXPECT_EQ(far.error().message.find("did you mean"), std::string::npos) << far.error().message;
}

TEST_F(JobConfigTest, ServerIdThatIsNoNumberNamesTheFile) {
    auto job = load(
        std::string(full_job).replace(std::string(full_job).find("12345"), 5, "\"my-server\""));
    ASSERT_FALSE(job);
    EXPECT_NE(job.error().message.find("job.json: server_id: expected a whole number"),
              std::string::npos)
        << job.error().message;
    EXPECT_NE(job.error().message.find("got \"my-server\""), std::string::npos);
    auto quoted =
        load(std::string(full_job).replace(std::string(full_job).find("12345"), 5, "\"12345\""));
    ASSERT_TRUE(quoted) << quoted.error().message;
    EXPECT_EQ(quoted->server_id, "12345");
}

TEST_F(JobConfigTest, EndpointWithoutAHostIsRefused) {
    for (const char* bad : {"http://", "http:///api/v1/email", "ftp://x.example/", "inject"}) {
        auto job = load(std::string(full_job).replace(
            std::string(full_job).find("https://inject.socketlabs.com/api/v1/email"),
            std::string_view("https://inject.socketlabs.com/api/v1/email").size(), bad));
        ASSERT_FALSE(job) << bad;
        EXPECT_EQ(job.error().key, "endpoint") << bad;
    }
}

TEST_F(JobConfigTest, PathsBesideADotRelativeJobFileAreNormal) {
    write("job.json", full_job);
    const auto cwd = fs::current_path();
    fs::current_path(dir_);
    auto job = load_job_file("./job.json");
    fs::current_path(cwd);
    ASSERT_TRUE(job) << job.error().message;
    EXPECT_EQ(job->results, fs::path("results.ndjson"));
    EXPECT_EQ(job->recipients.path, fs::path("recipients.csv"));
}

// salvo help job-file and docs/job-file.md come from the key table: a key
// without its reference entry (or an entry without a key) fails here.
TEST(JobConfigReference, EveryKeyIsDocumented) {
    EXPECT_EQ(undocumented_keys(), std::vector<std::string>{});
    const std::string md = job_file_reference();
    for (const char* key :
         {"`server_id`", "`retry.max_attempts`", "`message.attachments`", "`global`", "`threads`"})
        EXPECT_NE(md.find(key), std::string::npos) << key;
    // The defaults the reference states are the parser's.
    EXPECT_NE(md.find("| `retry.max_attempts` | a whole number | `25` |"), std::string::npos);
    EXPECT_NE(md.find("| `timeouts.request_ms` | a whole number | `120000` |"), std::string::npos);
}

// Found by the bad-input corpus (tests/data/bad/): every job file with a URL
// holds "//", so every JSON error claimed there were comments.
TEST_F(JobConfigTest, UrlInAStringIsNoCommentHint) {
    auto job = load(R"({"endpoint": "http://127.0.0.1:1/api/v1/email", "recipients": 01})");
    ASSERT_FALSE(job);
    EXPECT_NE(job.error().message.find("not valid JSON"), std::string::npos);
    EXPECT_EQ(job.error().message.find("comments"), std::string::npos) << job.error().message;
    auto commented = load("{\"endpoint\": \"http://x\" /* note */}");
    ASSERT_FALSE(commented);
    EXPECT_NE(commented.error().message.find("comments are not allowed"), std::string::npos);
}

// Found by the bad-input corpus: `"limits": 5` said "unknown key".
TEST_F(JobConfigTest, ScalarWhereAnObjectBelongsNamesTheKeyAndTheType) {
    auto job = load(R"({"recipients": "r.csv", "limits": 5,
                       "message": {"from": "a@x.io", "subject": "s", "text": "t"}})");
    ASSERT_FALSE(job);
    EXPECT_EQ(job.error().key, "limits");
    EXPECT_NE(job.error().message.find("expected an object"), std::string::npos)
        << job.error().message;
    EXPECT_NE(job.error().message.find("got a number"), std::string::npos);
    EXPECT_NE(job.error().message.find("messages_per_request"), std::string::npos);
    auto set = load(R"({"recipients": "r.csv",
                       "message": {"from": "a@x.io", "subject": "s", "text": "t"}})",
                    {"retry=3"});
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().key, "retry");
    EXPECT_NE(set.error().message.find("expected an object"), std::string::npos)
        << set.error().message;
}

TEST_F(JobConfigTest, ApiKeyFromFileOrEnvironment) {
    auto job = load(full_job);
    ASSERT_TRUE(job);
    job->api_key_env = "SALVO_TEST_KEY_VARIABLE";
    ::unsetenv("SALVO_TEST_KEY_VARIABLE");
    auto missing = resolve_api_key(*job);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("SALVO_TEST_KEY_VARIABLE"), std::string::npos);
    ::setenv("SALVO_TEST_KEY_VARIABLE", " key-from-env\n", 1);
    EXPECT_EQ(resolve_api_key(*job).value(), "key-from-env");
    write("key.txt", "key-from-file\n");
    job->api_key_file = dir_ / "key.txt";
    EXPECT_EQ(resolve_api_key(*job).value(), "key-from-file");
    ::unsetenv("SALVO_TEST_KEY_VARIABLE");
}

}  // namespace
}  // namespace salvo::engine
