#include "support/salvo_campaign.hpp"

#include "support/emulator_process.hpp"

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

namespace salvo::test {

salvo_campaign::salvo_campaign(std::filesystem::path salvo, std::uint64_t rows,
                               const std::string& job_extra)
    : salvo_(std::move(salvo)), rows_(rows) {
    std::string templ = (std::filesystem::temp_directory_path() / "salvo-rel-XXXXXX").string();
    if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;
    {
        std::ofstream out(dir_ / "recipients.csv", std::ios::binary);
        out << "email,name,first_name,code\n";
        // Every 7th first name is escaped in the HTML part and not in the
        // Subject: in server mode those rows make messages of their own
        // beside the others', and a request's rows are not one run.
        for (std::uint64_t i = 1; i <= rows; ++i)
            out << email_of(i) << ",User " << i << "," << (i % 7 == 3 ? "O'User" : "User") << i
                << ",c" << i << "\n";
        if (!out) throw std::runtime_error("cannot write recipients.csv");
    }
    std::ofstream(dir_ / "body.html") << "<p>Hi %%first_name|friend%%, code %%code:url%%</p>\n";
    std::ofstream job(dir_ / "job.json");
    // The endpoint is given per run (--endpoint); this one is never used.
    job << R"({ "endpoint": "http://127.0.0.1:1/api/v1/email",
  "server_id": 4242,
  "api_key_env": "SALVO_TEST_KEY",
  "recipients": { "path": "recipients.csv" },
  "message": { "from": {"email": "news@example.com", "name": "News"},
               "subject": "Hello %%first_name|friend%%",
               "text": "Code %%code%%", "html": {"file": "body.html"} })";
    if (!job_extra.empty()) job << ",\n  " << job_extra;
    job << "\n}\n";
    if (!job) throw std::runtime_error("cannot write job.json");
}

salvo_campaign::~salvo_campaign() {
    if (std::getenv("SALVO_KEEP_TEST_DIRS")) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string salvo_campaign::email_of(std::uint64_t row) {
    return "user" + std::to_string(row) + "@example.com";
}

std::optional<std::uint64_t> salvo_campaign::row_of(std::string_view email) const {
    constexpr std::string_view prefix = "user";
    constexpr std::string_view suffix = "@example.com";
    if (email.size() <= prefix.size() + suffix.size() || !email.starts_with(prefix) ||
        !email.ends_with(suffix))
        return std::nullopt;
    const auto digits = email.substr(prefix.size(), email.size() - prefix.size() - suffix.size());
    std::uint64_t row = 0;
    const auto r = std::from_chars(digits.data(), digits.data() + digits.size(), row);
    if (r.ec != std::errc{} || r.ptr != digits.data() + digits.size() || row == 0 || row > rows_)
        return std::nullopt;
    return row;
}

child_process salvo_campaign::start_send(const std::vector<std::string>& args,
                                         const std::string& tag, const std::string& key) const {
    spawn_options o;
    o.argv = {salvo_.string(), "send", job().string()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    o.env = {"SALVO_TEST_KEY=" + key};
    o.stdout_file = dir_ / (tag + ".out");
    o.stderr_file = dir_ / (tag + ".err");
    return child_process::spawn(o);
}

salvo_campaign::finished_run salvo_campaign::send(const std::vector<std::string>& args,
                                                  const std::string& tag,
                                                  std::chrono::milliseconds timeout,
                                                  const std::string& key) const {
    auto child = start_send(args, tag, key);
    finished_run r;
    if (auto st = child.wait_for(timeout)) {
        r.status = *st;
    } else {
        r.timed_out = true;
        r.status = child.kill_and_wait();
    }
    r.err = read_file(dir_ / (tag + ".err"));
    return r;
}

}  // namespace salvo::test
