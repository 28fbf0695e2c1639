#include "siblings.hpp"

#include "processor.hpp"

#include <salvo/emulator/error.hpp>
#include <salvo/merge/escape.hpp>

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace salvo::emulator::detail {

namespace {

constexpr std::string_view marketing_prefix = "/marketing/v1/";
constexpr std::string_view reporting_prefix = "/v1/";
constexpr std::size_t max_page_size = 1000;
constexpr std::size_t default_page_size = 100;
constexpr std::size_t max_report_count = 500;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
}

int hex(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string url_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// The decoded value of `name` in a query string (case-insensitive name), or
// nullopt.
std::optional<std::string> query_value(std::string_view query, std::string_view name) {
    while (!query.empty()) {
        const auto amp = query.find('&');
        const auto pair = query.substr(0, amp);
        const auto eq = pair.find('=');
        if (lower(pair.substr(0, eq)) == lower(name))
            return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

// A non-negative integer parameter: `fallback` when absent, nullopt when
// present and not a number.
std::optional<std::uint64_t> number_param(std::string_view query, std::string_view name,
                                          std::uint64_t fallback) {
    const auto v = query_value(query, name);
    if (!v) return fallback;
    std::uint64_t n = 0;
    const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || p != v->data() + v->size() || v->empty()) return std::nullopt;
    return n;
}

std::optional<std::uint64_t> parse_id(std::string_view s) {
    std::uint64_t n = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return n;
}

void str(std::string& out, std::string_view key, std::string_view value, bool comma = true) {
    if (comma) out += ',';
    out += '"';
    out += key;
    out += "\":\"";
    merge::append_json_escaped(out, value);
    out += '"';
}

void num(std::string& out, std::string_view key, std::uint64_t value, bool comma = true) {
    if (comma) out += ',';
    out += '"';
    out += key;
    out += "\":";
    out += std::to_string(value);
}

sibling_reply error(unsigned status, std::string_view code, std::string_view message) {
    sibling_reply r{status, "{"};
    str(r.body, "error", code, false);
    str(r.body, "message", message);
    r.body += '}';
    return r;
}

std::string now_string() {
    const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

void write_contact(std::string& out, const siblings::contact& c) {
    out += '{';
    num(out, "id", c.id, false);
    str(out, "emailAddress", c.email);
    str(out, "firstName", c.first_name);
    str(out, "lastName", c.last_name);
    out += ",\"customFields\":[";
    for (std::size_t i = 0; i < c.fields.size(); ++i) {
        if (i) out += ',';
        out += '{';
        str(out, "name", c.fields[i].name, false);
        str(out, "value", c.fields[i].value);
        out += '}';
    }
    out += "]}";
}

// Reads a contact object ({emailAddress, firstName, lastName, customFields:
// [{name, value}]}); false when it is not that shape.
bool read_contact(simdjson::dom::element e, siblings::contact& c) {
    simdjson::dom::object o;
    if (e.get(o)) return false;
    std::string_view sv;
    if (o["emailAddress"].get(sv)) return false;
    c.email = sv;
    if (!o["firstName"].get(sv)) c.first_name = sv;
    if (!o["lastName"].get(sv)) c.last_name = sv;
    std::uint64_t id = 0;
    if (!o["id"].get(id)) c.id = id;
    simdjson::dom::array fields;
    if (!o["customFields"].get(fields)) {
        for (auto f : fields) {
            std::string_view name, value;
            if (f["name"].get(name) || f["value"].get(value)) return false;
            c.fields.push_back({std::string(name), std::string(value)});
        }
    }
    return true;
}

// The page parameters of a Marketing list answer, or an error reply.
struct page_params {
    std::uint64_t page = 1, size = default_page_size;
};
std::optional<sibling_reply> read_page(std::string_view query, page_params& p) {
    const auto page = number_param(query, "page", 1);
    const auto size = number_param(query, "pageSize", default_page_size);
    if (!page || *page == 0)
        return error(400, "BadRequest", "page must be a whole number starting at 1");
    if (!size || *size == 0 || *size > max_page_size)
        return error(400, "BadRequest", "pageSize must be a whole number from 1 to 1000");
    p.page = *page;
    p.size = *size;
    return std::nullopt;
}

void page_head(std::string& out, std::size_t total, const page_params& p) {
    out += '{';
    num(out, "total", total, false);
    num(out, "page", p.page);
    num(out, "pageSize", p.size);
    out += ",\"data\":[";
}

}  // namespace

bool is_sibling_path(std::string_view path) noexcept {
    return path.starts_with(marketing_prefix) || path.starts_with(reporting_prefix);
}

bool base64_decode(std::string_view in, std::string& out) {
    out.clear();
    unsigned acc = 0;
    int bits = 0;
    for (const char c : in) {
        int v = -1;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+')
            v = 62;
        else if (c == '/')
            v = 63;
        else if (c == '=')
            break;
        else
            return false;
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    return true;
}

bool basic_credentials(std::string_view authorization, std::string& user, std::string& password) {
    constexpr std::string_view scheme = "basic ";
    if (authorization.size() <= scheme.size() ||
        lower(authorization.substr(0, scheme.size())) != scheme)
        return false;
    std::string decoded;
    auto token = authorization.substr(scheme.size());
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (!base64_decode(token, decoded)) return false;
    const auto colon = decoded.find(':');
    if (colon == std::string::npos) return false;
    user = decoded.substr(0, colon);
    password = decoded.substr(colon + 1);
    return true;
}

siblings::siblings(const sibling_options& opts, std::string server_id)
    : opts_(opts), server_id_(std::move(server_id)) {}

boost::system::error_code siblings::load() {
    if (opts_.marketing_data_file.empty()) return {};
    std::error_code fec;
    if (!std::filesystem::exists(opts_.marketing_data_file, fec)) return {};
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.load(opts_.marketing_data_file).get(doc))
        return make_error_code(errc::bad_marketing_data);
    simdjson::dom::array lists;
    if (doc["lists"].get(lists)) return make_error_code(errc::bad_marketing_data);
    for (auto l : lists) {
        contact_list list;
        std::string_view name;
        if (l["id"].get(list.id) || l["name"].get(name))
            return make_error_code(errc::bad_marketing_data);
        list.name = name;
        simdjson::dom::array contacts;
        if (l["contacts"].get(contacts)) return make_error_code(errc::bad_marketing_data);
        for (auto ce : contacts) {
            contact c;
            if (!read_contact(ce, c)) return make_error_code(errc::bad_marketing_data);
            if (c.id == 0) c.id = next_contact_id_;
            next_contact_id_ = std::max(next_contact_id_, c.id + 1);
            for (const auto& f : c.fields)
                if (std::find(custom_fields_.begin(), custom_fields_.end(), f.name) ==
                    custom_fields_.end())
                    custom_fields_.push_back(f.name);
            list.index[lower(c.email)] = list.contacts.size();
            list.contacts.push_back(std::move(c));
            ++total_contacts_;
        }
        next_list_id_ = std::max(next_list_id_, list.id + 1);
        const auto id = list.id;
        lists_[id] = std::move(list);
    }
    simdjson::dom::array unsub;
    if (!doc["unsubscribed"].get(unsub))
        for (auto u : unsub) {
            std::string_view a;
            if (u.get(a)) return make_error_code(errc::bad_marketing_data);
            unsubscribed_.emplace_back(a);
        }
    return {};
}

boost::system::error_code siblings::save() const {
    if (opts_.marketing_data_file.empty()) return {};
    std::string out = "{\"lists\":[";
    {
        const std::lock_guard lock(mutex_);
        bool first = true;
        for (const auto& [id, l] : lists_) {
            if (!first) out += ',';
            first = false;
            out += '{';
            num(out, "id", id, false);
            str(out, "name", l.name);
            out += ",\"contacts\":[";
            for (std::size_t i = 0; i < l.contacts.size(); ++i) {
                if (i) out += ",\n";
                write_contact(out, l.contacts[i]);
            }
            out += "]}";
        }
        out += "],\"unsubscribed\":[";
        for (std::size_t i = 0; i < unsubscribed_.size(); ++i) {
            if (i) out += ',';
            out += '"';
            merge::append_json_escaped(out, unsubscribed_[i]);
            out += '"';
        }
    }
    out += "]}\n";
    const std::string tmp = opts_.marketing_data_file + ".tmp";
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        f << out;
        if (!f.flush()) return make_error_code(errc::bad_marketing_data);
    }
    std::error_code ec;
    std::filesystem::rename(tmp, opts_.marketing_data_file, ec);
    if (ec) return make_error_code(errc::bad_marketing_data);
    return {};
}

std::size_t siblings::contact_count() const {
    const std::lock_guard lock(mutex_);
    return total_contacts_;
}

void siblings::record(const std::vector<recorded_email>& accepted,
                      const std::vector<recorded_email>& refused) {
    if (!opts_.reporting || (accepted.empty() && refused.empty())) return;
    const std::string date = now_string();
    const std::lock_guard lock(mutex_);
    for (const auto& e : accepted) {
        if (!invented_) {
            invented_ = true;
            for (std::uint64_t i = 1; i <= opts_.invent; ++i)
                processed_.push_back({date,
                                      "invented-" + std::to_string(i) + "@emulator.invalid",
                                      e.from,
                                      e.mailing_id,
                                      "emulator-invented-" + std::to_string(i),
                                      -1,
                                      {}});
        }
        if (forgotten_ < opts_.forget) {
            ++forgotten_;
            continue;
        }
        processed_.push_back({date, e.to, e.from, e.mailing_id, e.message_id, -1, {}});
    }
    for (const auto& e : refused)
        failed_.push_back({date, e.to, e.from, e.mailing_id, e.message_id, -1, {}});
}

void siblings::record_opens_clicks(const std::vector<recorded_email>& accepted,
                                   const std::vector<post_batch::tracking>& opens_clicks) {
    if (!opts_.reporting || opens_clicks.empty()) return;
    const std::string date = now_string();
    const std::lock_guard lock(mutex_);
    for (const auto& t : opens_clicks) {
        const auto& e = accepted[t.email];
        opens_clicks_.push_back({date, e.to, e.from, e.mailing_id, e.message_id, t.type, t.url});
    }
}

sibling_reply siblings::handle(std::string_view method, std::string_view target,
                               std::string_view body, std::string_view authorization) {
    const auto q = target.find('?');
    const auto path = target.substr(0, q);
    const auto query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    std::string user, password;
    const bool have = basic_credentials(authorization, user, password);
    if (path.starts_with(marketing_prefix)) {
        if (!have || user.empty() || password.empty() ||
            (!server_id_.empty() && user != server_id_) ||
            (!opts_.marketing_api_key.empty() && password != opts_.marketing_api_key))
            return error(401, "Unauthorized",
                         "Basic credentials (ServerId and Marketing API key) were refused");
        return marketing(method, path.substr(marketing_prefix.size()), query, body);
    }
    if (!have || user.empty() || password.empty() ||
        (!opts_.reporting_user.empty() && user != opts_.reporting_user) ||
        (!opts_.reporting_api_key.empty() && password != opts_.reporting_api_key))
        return error(401, "Unauthorized",
                     "Basic credentials (user name and Reporting API key) were refused");
    return reporting(method, path.substr(reporting_prefix.size()), query);
}

sibling_reply siblings::marketing(std::string_view method, std::string_view path,
                                  std::string_view query, std::string_view body) {
    while (path.ends_with('/')) path.remove_suffix(1);
    std::vector<std::string_view> parts;
    for (std::string_view rest = path; !rest.empty();) {
        const auto slash = rest.find('/');
        parts.push_back(rest.substr(0, slash));
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    const std::lock_guard lock(mutex_);
    page_params pp;
    if (parts.size() == 1 && parts[0] == "lists") {
        if (method == "GET") {
            if (auto bad = read_page(query, pp)) return *bad;
            sibling_reply r;
            page_head(r.body, lists_.size(), pp);
            std::size_t i = 0, written = 0;
            for (const auto& [id, l] : lists_) {
                if (i++ < (pp.page - 1) * pp.size) continue;
                if (written == pp.size) break;
                if (written++) r.body += ',';
                r.body += '{';
                num(r.body, "id", id, false);
                str(r.body, "name", l.name);
                num(r.body, "contactCount", l.contacts.size());
                r.body += '}';
            }
            r.body += "]}";
            return r;
        }
        if (method == "POST") {
            simdjson::dom::parser parser;
            simdjson::dom::element doc;
            std::string_view name;
            if (parser.parse(body.data(), body.size()).get(doc) || doc["name"].get(name))
                return error(400, "BadRequest", "the body must be {\"name\": \"…\"}");
            contact_list l;
            l.id = next_list_id_++;
            l.name = name;
            sibling_reply r{201, "{"};
            num(r.body, "id", l.id, false);
            r.body += '}';
            lists_[l.id] = std::move(l);
            return r;
        }
        return error(405, "MethodNotAllowed", "lists answers GET and POST");
    }
    if (parts.size() == 1 && parts[0] == "customFields" && method == "GET") {
        sibling_reply r{200, "{\"data\":["};
        for (std::size_t i = 0; i < custom_fields_.size(); ++i) {
            if (i) r.body += ',';
            r.body += '{';
            str(r.body, "name", custom_fields_[i], false);
            r.body += '}';
        }
        r.body += "]}";
        return r;
    }
    if (parts.size() == 2 && parts[0] == "contacts" && parts[1] == "unsubscribe" &&
        method == "POST") {
        simdjson::dom::parser parser;
        simdjson::dom::element doc;
        std::string_view a;
        if (parser.parse(body.data(), body.size()).get(doc) || doc["emailAddress"].get(a))
            return error(400, "BadRequest", "the body must be {\"emailAddress\": \"…\"}");
        if (!valid_address(a)) return error(400, "InvalidAddress", "not a valid email address");
        const auto key = lower(a);
        if (std::none_of(unsubscribed_.begin(), unsubscribed_.end(),
                         [&](const std::string& u) { return lower(u) == key; }))
            unsubscribed_.emplace_back(a);
        return {200, "{\"unsubscribed\":true}"};
    }
    if (parts.size() >= 3 && parts[0] == "lists" && parts[2] == "contacts") {
        const auto id = parse_id(parts[1]);
        const auto it = id ? lists_.find(*id) : lists_.end();
        if (it == lists_.end()) return error(404, "NotFound", "no contact list with this id");
        auto& list = it->second;
        if (parts.size() == 3 && method == "GET") {
            if (auto bad = read_page(query, pp)) return *bad;
            sibling_reply r;
            page_head(r.body, list.contacts.size(), pp);
            const auto begin = std::min<std::size_t>((pp.page - 1) * pp.size, list.contacts.size());
            const auto end = std::min<std::size_t>(begin + pp.size, list.contacts.size());
            for (auto i = begin; i < end; ++i) {
                if (i != begin) r.body += ',';
                write_contact(r.body, list.contacts[i]);
            }
            r.body += "]}";
            return r;
        }
        if (method == "PUT" && parts.size() <= 4)
            return upsert(list, parts.size() == 4 ? parts[3] : std::string_view{}, body);
        if (method == "DELETE" && parts.size() == 3) {
            const auto a = query_value(query, "emailAddress");
            if (!a) return error(400, "BadRequest", "emailAddress is required");
            const auto pos = list.index.find(lower(*a));
            if (pos == list.index.end()) return error(404, "NotFound", "no such contact");
            const auto at = pos->second;
            list.contacts.erase(list.contacts.begin() + static_cast<std::ptrdiff_t>(at));
            list.index.erase(pos);
            for (auto& [k, v] : list.index)
                if (v > at) --v;
            --total_contacts_;
            return {200, "{\"deleted\":true}"};
        }
    }
    return error(404, "NotFound", "no such Marketing API resource");
}

sibling_reply siblings::upsert(contact_list& list, std::string_view contact_id,
                               std::string_view body) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    contact c;
    if (parser.parse(body.data(), body.size()).get(doc) || !read_contact(doc, c))
        return error(400, "BadRequest",
                     "the body must be {\"emailAddress\", \"firstName\", \"lastName\", "
                     "\"customFields\": [{\"name\", \"value\"}]}");
    if (!valid_address(c.email)) return error(400, "InvalidAddress", "not a valid email address");
    auto pos = list.index.find(lower(c.email));
    if (!contact_id.empty()) {
        const auto id = parse_id(contact_id);
        auto by_id = std::find_if(list.contacts.begin(), list.contacts.end(),
                                  [&](const contact& x) { return id && x.id == *id; });
        if (by_id == list.contacts.end()) return error(404, "NotFound", "no such contact");
        pos = list.index.find(lower(by_id->email));
    }
    for (const auto& f : c.fields)
        if (std::find(custom_fields_.begin(), custom_fields_.end(), f.name) == custom_fields_.end())
            custom_fields_.push_back(f.name);
    sibling_reply r;
    if (pos != list.index.end()) {
        auto& existing = list.contacts[pos->second];
        c.id = existing.id;
        if (lower(existing.email) != lower(c.email)) {
            list.index.erase(pos);
            list.index[lower(c.email)] = static_cast<std::size_t>(&existing - list.contacts.data());
        }
        existing = std::move(c);
        r.body = "{";
        num(r.body, "id", existing.id, false);
        r.body += ",\"created\":false}";
        return r;
    }
    if (opts_.max_contacts != 0 && total_contacts_ >= opts_.max_contacts)
        return error(403, "MaxContactsReached", "the account holds its maximum number of contacts");
    c.id = next_contact_id_++;
    list.index[lower(c.email)] = list.contacts.size();
    list.contacts.push_back(std::move(c));
    ++total_contacts_;
    r.status = 201;
    r.body = "{";
    num(r.body, "id", list.contacts.back().id, false);
    r.body += ",\"created\":true}";
    return r;
}

sibling_reply siblings::reporting(std::string_view method, std::string_view name,
                                  std::string_view query) {
    if (method != "GET") return error(405, "MethodNotAllowed", "the Reporting API answers GET");
    const auto type = query_value(query, "type");
    if (type && lower(*type) != "json")
        return error(400, "BadRequest", "this emulator answers type=JSON only");
    const auto count = number_param(query, "count", max_report_count);
    const auto index = number_param(query, "index", 0);
    if (!count || !index) return error(400, "BadRequest", "count and index must be whole numbers");
    const std::uint64_t n =
        std::min<std::uint64_t>(*count == 0 ? max_report_count : *count, max_report_count);
    const auto mailing = query_value(query, "mailingId");
    const auto message = query_value(query, "messageId");
    const auto start = query_value(query, "startDate");
    const auto end = query_value(query, "endDate");
    const std::lock_guard lock(mutex_);
    const std::vector<report_entry>* source = nullptr;
    const std::vector<report_entry> none;
    if (name == "messagesProcessed")
        source = &processed_;
    else if (name == "messagesFailed")
        source = &failed_;
    else if (name == "messagesOpenClick")
        source = &opens_clicks_;
    else if (name == "messagesQueued" || name == "messagesFblReported")
        source = &none;
    else if (name != "accountData")
        return error(404, "NotFound", "no such Reporting API method");
    std::string items;
    std::uint64_t total = 0;
    if (!source) {
        total = 1;
        items = "{";
        str(items, "ServerId", server_id_.empty() ? "1" : server_id_, false);
        num(items, "MessagesProcessed", processed_.size());
        num(items, "MessagesFailed", failed_.size());
        num(items, "Contacts", total_contacts_);
        items += '}';
    } else {
        for (const auto& e : *source) {
            if (mailing && e.mailing_id != *mailing) continue;
            if (message && e.message_id != *message) continue;
            if (start && e.date < *start) continue;
            if (end && e.date > *end) continue;
            const auto pos = total++;
            if (pos < *index || pos >= *index + n) continue;
            if (!items.empty()) items += ',';
            items += '{';
            str(items, "ServerId", server_id_.empty() ? "1" : server_id_, false);
            str(items, "DateTime", e.date);
            str(items, "MessageId", e.message_id);
            str(items, "MailingId", e.mailing_id);
            str(items, "ToAddress", e.to);
            str(items, "FromAddress", e.from);
            if (source == &failed_) {
                num(items, "FailureType", 1);
                num(items, "FailureCode", 2001);
                str(items, "Reason", "Invalid address");
            }
            if (e.tracking_type >= 0) {
                num(items, "TrackingType", static_cast<std::uint64_t>(e.tracking_type));
                str(items, "Url", e.url);
                str(items, "ClientIp", "192.0.2.7");
            }
            items += '}';
        }
    }
    sibling_reply r{200, "{"};
    str(r.body, "timestamp", now_string(), false);
    num(r.body, "totalCount", total);
    num(r.body, "totalPages", (total + n - 1) / n);
    num(r.body, "index", *index);
    num(r.body, "count", n);
    r.body += ",\"collection\":[";
    r.body += items;
    r.body += "]}";
    return r;
}

}  // namespace salvo::emulator::detail
