// `salvo lists ls|export|push|unsubscribe`: the Marketing API's contact
// lists, through salvo::marketing (docs/marketing-and-reporting.md).
#include "commands.hpp"

#include <salvo/engine/job_config.hpp>
#include <salvo/engine/source.hpp>
#include <salvo/marketing/client.hpp>
#include <salvo/merge/escape.hpp>
#include <salvo/store/store.hpp>

#include <fmt/core.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <unordered_set>

namespace salvo::cli {

namespace {

// The job (or a default one) with the overrides, and the Marketing API
// client it describes; nullopt after printing why not.
struct marketing_setup {
    engine::job_config job;
    std::unique_ptr<marketing::client> client;
};

// The client for `job`'s Marketing API settings; nullptr after printing why not.
std::unique_ptr<marketing::client> client_for(const engine::job_config& job,
                                              std::size_t page_size) {
    if (job.server_id.empty()) {
        fmt::print(stderr,
                   "salvo: the ServerId is not set: give --job JOB.json (key server_id) or "
                   "--set server_id=ID\n");
        return nullptr;
    }
    auto key =
        engine::resolve_secret(job.marketing.api_key_env, job.marketing.api_key_file, "marketing");
    if (!key) {
        fmt::print(stderr, "salvo: {}\n", key.error().message);
        return nullptr;
    }
    marketing::config cfg;
    cfg.endpoint = job.marketing.endpoint;
    cfg.server_id = job.server_id;
    cfg.api_key = std::move(*key);
    if (page_size) cfg.page_size = page_size;
    return std::make_unique<marketing::client>(std::move(cfg),
                                               engine::transport_options(job, SALVO_VERSION));
}

// One contact as a flat NDJSON object (with its newline): email,
// first_name, last_name, then every custom field by name.
std::string contact_line(const marketing::contact& c);

std::optional<marketing_setup> setup(const lists_args& a) {
    marketing_setup s;
    if (!a.job_file.empty()) {
        auto job = engine::load_job_file(a.job_file, a.sets);
        if (!job) {
            fmt::print(stderr, "salvo: {}\n", job.error().message);
            return std::nullopt;
        }
        s.job = std::move(*job);
    } else {
        for (const auto& set : a.sets)
            if (auto err = engine::apply_override(s.job, set, ".")) {
                fmt::print(stderr, "salvo: --set {}: {}\n", set, err->message);
                return std::nullopt;
            }
    }
    s.client = client_for(s.job, a.page_size);
    if (!s.client) return std::nullopt;
    return s;
}

std::string csv_field(std::string_view v) {
    if (v.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(v);
    std::string out = "\"";
    for (const char c : v) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

void json_pair(std::string& out, std::string_view k, std::string_view v) {
    if (out.size() > 1) out += ',';
    out += '"';
    merge::append_json_escaped(out, k);
    out += "\":\"";
    merge::append_json_escaped(out, v);
    out += '"';
}

std::string contact_line(const marketing::contact& c) {
    std::string line = "{";
    json_pair(line, "email", c.email);
    json_pair(line, "first_name", c.first_name);
    json_pair(line, "last_name", c.last_name);
    for (const auto& f : c.fields) json_pair(line, f.name, f.value);
    line += "}\n";
    return line;
}

bool same_content(const std::filesystem::path& a, const std::filesystem::path& b) {
    std::error_code ea, eb;
    if (std::filesystem::file_size(a, ea) != std::filesystem::file_size(b, eb) || ea || eb)
        return false;
    std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
    std::vector<char> ba(1 << 16), bb(1 << 16);
    while (fa && fb) {
        fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
        fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
        if (fa.gcount() != fb.gcount() ||
            !std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin()))
            return false;
    }
    return true;
}

std::uint64_t count_lines(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    return static_cast<std::uint64_t>(
        std::count(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>(), '\n'));
}

int run_ls(const lists_args& a) {
    auto s = setup(a);
    if (!s) return exit_usage;
    auto lists = s->client->lists();
    if (!lists) {
        fmt::print(stderr, "salvo: lists ls: {}\n", lists.error().message);
        return exit_stopped;
    }
    if (a.json) {
        std::string out = "[";
        for (const auto& l : *lists) {
            if (out.size() > 1) out += ',';
            out += fmt::format("{{\"id\":{},\"name\":\"", l.id);
            merge::append_json_escaped(out, l.name);
            out += fmt::format("\",\"contactCount\":{}}}", l.contact_count);
        }
        fmt::print("{}]\n", out);
        return exit_ok;
    }
    fmt::print("{:>10}  {:>10}  {}\n", "ID", "CONTACTS", "NAME");
    for (const auto& l : *lists) fmt::print("{:>10}  {:>10}  {}\n", l.id, l.contact_count, l.name);
    return exit_ok;
}

int run_export(const lists_args& a) {
    auto s = setup(a);
    if (!s) return exit_usage;
    std::FILE* out = stdout;
    if (!a.out.empty() && !(out = std::fopen(a.out.c_str(), "wb"))) {
        fmt::print(stderr, "salvo: lists export: cannot write {}\n", a.out);
        return exit_usage;
    }
    std::uint64_t written = 0;
    // CSV needs every custom field's name for its header: it keeps the
    // contacts; NDJSON streams page by page.
    std::vector<marketing::contact> kept;
    std::vector<std::string> names;
    auto r = s->client->for_each_page(a.list_id, [&](marketing::contact_page& p) {
        for (auto& c : p.contacts) {
            if (a.format == "csv") {
                for (const auto& f : c.fields)
                    if (std::find(names.begin(), names.end(), f.name) == names.end())
                        names.push_back(f.name);
                kept.push_back(std::move(c));
                continue;
            }
            const std::string line = contact_line(c);
            std::fwrite(line.data(), 1, line.size(), out);
            ++written;
        }
        return true;
    });
    if (a.format == "csv") {
        std::string head = "email,first_name,last_name";
        for (const auto& n : names) head += "," + csv_field(n);
        head += '\n';
        std::fwrite(head.data(), 1, head.size(), out);
        for (const auto& c : kept) {
            std::string line =
                csv_field(c.email) + "," + csv_field(c.first_name) + "," + csv_field(c.last_name);
            for (const auto& n : names) {
                const auto it = std::find_if(c.fields.begin(), c.fields.end(),
                                             [&](const auto& f) { return f.name == n; });
                line += ",";
                if (it != c.fields.end()) line += csv_field(it->value);
            }
            line += '\n';
            std::fwrite(line.data(), 1, line.size(), out);
            ++written;
        }
    }
    const bool write_failed = std::fflush(out) != 0;
    if (out != stdout) std::fclose(out);
    if (!r) {
        fmt::print(stderr, "salvo: lists export {}: {} (after {} contacts)\n", a.list_id,
                   r.error().message, written);
        return exit_stopped;
    }
    if (write_failed) {
        fmt::print(stderr, "salvo: lists export: writing {} failed\n",
                   a.out.empty() ? "standard output" : a.out);
        return exit_stopped;
    }
    fmt::print(stderr, "salvo lists export: {} contacts of list {}\n", written, a.list_id);
    return exit_ok;
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        const auto comma = s.find(',', start);
        auto part = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!part.empty()) out.push_back(part);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

int run_push(const lists_args& a) {
    auto src = engine::open_source(a.file);
    if (!src) {
        fmt::print(stderr, "salvo: lists push: {}\n", src.error().message);
        return exit_usage;
    }
    const auto& fields = (*src)->fields();
    auto column = [&](const std::string& name) -> std::optional<std::size_t> {
        for (std::size_t i = 0; i < fields.size(); ++i)
            if (fields[i].key == name || fields[i].name == name) return i;
        return std::nullopt;
    };
    const auto email_col = column(a.email_column);
    if (!email_col) {
        fmt::print(stderr,
                   "salvo: lists push: {} has no column \"{}\"; name the address column with "
                   "--email-column\n",
                   a.file, a.email_column);
        return exit_usage;
    }
    const auto first_col = column(a.first_name_column);
    const auto last_col = column(a.last_name_column);
    std::vector<std::size_t> custom;
    if (!a.fields.empty()) {
        for (const auto& n : split_commas(a.fields)) {
            const auto c = column(n);
            if (!c) {
                fmt::print(stderr, "salvo: lists push: --fields {}: {} has no column \"{}\"\n",
                           a.fields, a.file, n);
                return exit_usage;
            }
            custom.push_back(*c);
        }
    } else {
        for (std::size_t i = 0; i < fields.size(); ++i)
            if (i != *email_col && i != first_col && i != last_col) custom.push_back(i);
    }
    // Read every row first: a malformed one stops the push before anything
    // is sent, naming the row.
    std::vector<marketing::contact> contacts;
    std::vector<std::uint64_t> rows;
    engine::chunk ch;
    for (;;) {
        auto more = (*src)->next_chunk(ch);
        if (!more) {
            fmt::print(stderr, "salvo: lists push: {}\n", more.error().message);
            return exit_usage;
        }
        if (!*more) break;
        for (std::size_t i = 0; i < ch.size(); ++i) {
            const auto& info = ch.info(i);
            if (!info.valid()) {
                fmt::print(stderr, "salvo: lists push: {}; nothing was pushed\n", info.message);
                return exit_usage;
            }
            const auto v = ch.values(i);
            auto text = [&](std::optional<std::size_t> c) {
                return c && v[*c].data() ? std::string(v[*c]) : std::string();
            };
            marketing::contact c;
            c.email = text(email_col);
            c.first_name = text(first_col);
            c.last_name = text(last_col);
            for (const auto k : custom)
                if (v[k].data()) c.fields.push_back({fields[k].name, std::string(v[k])});
            contacts.push_back(std::move(c));
            rows.push_back(info.row);
        }
    }
    auto s = setup(a);
    if (!s) return exit_usage;
    const auto results = s->client->push(a.list_id, contacts);
    std::ofstream out(a.results, std::ios::binary | std::ios::trunc);
    std::map<std::string_view, std::uint64_t> counts;
    for (std::size_t i = 0; i < results.size(); ++i) {
        const auto& r = results[i];
        const auto fate = marketing::to_string(r.fate);
        ++counts[fate];
        std::string line = fmt::format("{{\"row\":{},\"email\":\"", rows[i]);
        merge::append_json_escaped(line, contacts[i].email);
        line += fmt::format("\",\"fate\":\"{}\",\"http_status\":{},\"attempts\":{},\"message\":\"",
                            fate, r.http_status, r.attempts);
        merge::append_json_escaped(line, r.message);
        line += "\"}\n";
        out << line;
    }
    out.flush();
    if (!out) {
        fmt::print(stderr, "salvo: lists push: writing {} failed\n", a.results);
        return exit_stopped;
    }
    std::string summary;
    for (const auto& [k, n] : counts) summary += fmt::format(" {}={}", k, n);
    fmt::print(stderr, "salvo lists push: {} contacts to list {}:{}; per contact: {}\n",
               contacts.size(), a.list_id, summary, a.results);
    const bool all_ok = counts.size() == static_cast<std::size_t>(counts.count("created")) +
                                             static_cast<std::size_t>(counts.count("updated"));
    return all_ok ? exit_ok : exit_some;
}

// "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[Z]" (UTC) in ms since the epoch.
std::optional<std::int64_t> parse_since(const std::string& s) {
    std::tm tm{};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    char tail = 0;
    const int n =
        std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &se, &tail);
    if (!(n == 3 && s.size() == 10) && n != 6 && !(n == 7 && tail == 'Z')) return std::nullopt;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    return static_cast<std::int64_t>(timegm(&tm)) * 1000;
}

int run_unsubscribe(const lists_args& a) {
    std::int64_t since = 0;
    if (!a.since.empty()) {
        const auto t = parse_since(a.since);
        if (!t) {
            fmt::print(stderr,
                       "salvo: lists unsubscribe: --since {}: expected YYYY-MM-DD or "
                       "YYYY-MM-DDTHH:MM:SSZ (UTC)\n",
                       a.since);
            return exit_usage;
        }
        since = *t;
    }
    store::store_options so;
    so.db = a.db;
    so.read_only = true;
    auto db = store::open_store(so);
    if (!db) {
        fmt::print(stderr, "salvo: lists unsubscribe: cannot open {}: {}\n", store::redact(a.db),
                   db.error().message());
        return exit_usage;
    }
    std::vector<std::string> addresses;
    const auto ec = (*db)->for_each_suppression([&](const store::suppression& sup) {
        const auto reason = store::canonical_reason(sup.reason);
        if ((reason == "unsubscribed" || reason == "complained") && sup.added_ms >= since)
            addresses.push_back(sup.address);
    });
    if (ec) {
        fmt::print(stderr, "salvo: lists unsubscribe: reading {}: {}\n", a.db, ec.message());
        return exit_usage;
    }
    auto s = setup(a);
    if (!s) return exit_usage;
    std::uint64_t done = 0;
    for (const auto& address : addresses) {
        auto r = s->client->unsubscribe(address);
        if (!r) {
            fmt::print(stderr,
                       "salvo: lists unsubscribe: {} of {} pushed; stopped at the next: {}\n", done,
                       addresses.size(), r.error().message);
            return exit_stopped;
        }
        ++done;
    }
    fmt::print(stderr,
               "salvo lists unsubscribe: {} unsubscribes and complaints from {} pushed to the "
               "platform\n",
               done, a.db);
    return exit_ok;
}

// The first free `p.before-change-N`.
std::filesystem::path before_change_name(const std::filesystem::path& p) {
    for (unsigned i = 1;; ++i) {
        std::filesystem::path q = p;
        q += ".before-change-" + std::to_string(i);
        std::error_code ec;
        if (!std::filesystem::exists(q, ec)) return q;
    }
}

// --accept-changed-source: the campaign so far (journal, results, the old
// copy) moves aside; the new copy keeps only the contacts whose address no
// results line names; a fresh journal sends those.
int accept_changed_list(const engine::job_config& job, const std::filesystem::path& fresh,
                        std::uint64_t now) {
    namespace fs = std::filesystem;
    const fs::path copy = job.recipients.path;
    std::unordered_set<std::string> decided;
    simdjson::dom::parser parser;
    std::string line;
    {
        std::ifstream results(job.results, std::ios::binary);
        while (std::getline(results, line)) {
            std::string_view email;
            simdjson::dom::element e;
            if (!parser.parse(line).get(e) && !e["email"].get(email))
                decided.insert(store::address_key(email));
        }
    }
    fs::path kept = copy;
    kept += ".kept";
    std::uint64_t left = 0, skipped = 0;
    {
        std::ifstream in(fresh, std::ios::binary);
        std::ofstream out(kept, std::ios::binary | std::ios::trunc);
        while (std::getline(in, line)) {
            std::string_view email;
            simdjson::dom::element e;
            if (!parser.parse(line).get(e) && !e["email"].get(email) &&
                decided.contains(store::address_key(email))) {
                ++skipped;
                continue;
            }
            out << line << '\n';
            ++left;
        }
        out.flush();
        if (!out) {
            fmt::print(stderr, "salvo: writing {} failed\n", kept.string());
            return exit_usage;
        }
    }
    std::error_code ec;
    const fs::path old_results = before_change_name(job.results);
    for (const auto& [from, to] :
         {std::pair{job.journal, before_change_name(job.journal)},
          std::pair{job.results, old_results}, std::pair{copy, before_change_name(copy)},
          std::pair{kept, copy}}) {
        fs::rename(from, to, ec);
        if (ec) {
            fmt::print(stderr, "salvo: cannot rename {} to {}: {}\n", from.string(), to.string(),
                       ec.message());
            return exit_usage;
        }
    }
    fs::remove(fresh, ec);
    fmt::print(stderr,
               "salvo: marketing list {} changed ({} contacts now); --accept-changed-source: "
               "{} already decided (their lines are in {}), {} to send\n",
               job.recipients.marketing_list, now, skipped, old_results.string(), left);
    return exit_ok;
}

}  // namespace

std::vector<std::filesystem::path> results_files(const std::filesystem::path& results) {
    std::vector<std::filesystem::path> out{results};
    for (unsigned i = 1;; ++i) {
        std::filesystem::path q = results;
        q += ".before-change-" + std::to_string(i);
        std::error_code ec;
        if (!std::filesystem::exists(q, ec)) return out;
        out.push_back(q);
    }
}

int fetch_marketing_list(const engine::job_config& job, bool restart, bool accept_changed) {
    namespace fs = std::filesystem;
    const auto id = job.recipients.marketing_list;
    const fs::path copy = job.recipients.path;
    fs::path fresh = copy;
    fresh += ".new";
    auto client = client_for(job, 0);
    if (!client) return exit_usage;
    // Pass 1: the pages as they come (a contact carries only the custom
    // fields it has), and every field name in order of first appearance.
    fs::path sparse = fresh;
    sparse += ".pages";
    std::FILE* out = std::fopen(sparse.c_str(), "wb");
    if (!out) {
        fmt::print(stderr, "salvo: marketing list {}: cannot write {}\n", id, sparse.string());
        return exit_usage;
    }
    std::uint64_t n = 0;
    std::vector<std::string> names;
    auto r = client->for_each_page(id, [&](marketing::contact_page& p) {
        for (const auto& c : p.contacts) {
            for (const auto& f : c.fields)
                if (std::find(names.begin(), names.end(), f.name) == names.end())
                    names.push_back(f.name);
            const auto line = contact_line(c);
            std::fwrite(line.data(), 1, line.size(), out);
            ++n;
        }
        return true;
    });
    bool write_failed = std::fflush(out) != 0;
    std::fclose(out);
    std::error_code ec;
    if (!r || write_failed) {
        fs::remove(sparse, ec);
        fmt::print(stderr, "salvo: marketing list {}: {}; nothing was sent\n", id,
                   r ? "writing " + sparse.string() + " failed" : r.error().message);
        return r ? exit_usage : exit_stopped;
    }
    // Pass 2: every line with every field (a field a contact lacks is
    // empty, as on the platform), so the NDJSON reader, which takes the
    // fields from the first line, sees them all.
    {
        std::ifstream in(sparse, std::ios::binary);
        std::ofstream dense(fresh, std::ios::binary | std::ios::trunc);
        simdjson::dom::parser parser;
        std::string line;
        while (std::getline(in, line)) {
            simdjson::dom::object o;
            if (parser.parse(line).get(o)) {
                write_failed = true;
                break;
            }
            std::string d = "{";
            for (const char* k : {"email", "first_name", "last_name"}) {
                std::string_view v;
                if (o[k].get(v)) v = {};
                json_pair(d, k, v);
            }
            for (const auto& name : names) {
                std::string_view v;
                if (o[name].get(v)) v = {};
                json_pair(d, name, v);
            }
            d += "}\n";
            dense << d;
        }
        dense.flush();
        write_failed = write_failed || !dense;
    }
    fs::remove(sparse, ec);
    if (write_failed) {
        fs::remove(fresh, ec);
        fmt::print(stderr, "salvo: marketing list {}: writing {} failed; nothing was sent\n", id,
                   fresh.string());
        return exit_usage;
    }
    if (fs::exists(copy, ec)) {
        if (same_content(copy, fresh)) {
            // Unchanged: keep the copy the journal's fingerprint knows.
            fs::remove(fresh, ec);
            fmt::print(stderr, "salvo: marketing list {}: {} contacts, unchanged\n", id, n);
            return exit_ok;
        }
        if (!restart && accept_changed && fs::exists(job.journal, ec))
            return accept_changed_list(job, fresh, n);
        if (!restart && fs::exists(job.journal, ec)) {
            const auto before = count_lines(copy);
            fmt::print(stderr,
                       "salvo: marketing list {} changed since this campaign started ({} "
                       "contacts then, {} now; the copy it was sent from is {}, the list as it "
                       "is now {}).\n"
                       "Resuming would send from a different list. Either finish the campaign "
                       "as it was (copy the old file to a job whose recipients.path names it), "
                       "or start over with --restart (rows already sent are sent again), or go on "
                       "with --accept-changed-source (only the contacts no row has decided yet).\n",
                       id, before, n, copy.string(), fresh.string());
            return exit_usage;
        }
    }
    fs::rename(fresh, copy, ec);
    if (ec) {
        fmt::print(stderr, "salvo: marketing list {}: cannot rename {} to {}: {}\n", id,
                   fresh.string(), copy.string(), ec.message());
        return exit_usage;
    }
    fmt::print(stderr, "salvo: marketing list {}: {} contacts copied to {}\n", id, n,
               copy.string());
    return exit_ok;
}

int run_lists(const lists_args& a) {
    if (a.action == "ls") return run_ls(a);
    if (a.action == "export") return run_export(a);
    if (a.action == "push") return run_push(a);
    return run_unsubscribe(a);
}

}  // namespace salvo::cli
