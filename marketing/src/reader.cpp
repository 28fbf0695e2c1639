#include <salvo/marketing/reader.hpp>
#include <salvo/merge/escape.hpp>

#include <simdjson.h>

namespace salvo::marketing {

namespace {

namespace dom = simdjson::dom;

read_error bad(std::string what) {
    return read_error{"the Marketing API answer is not the expected JSON: " + std::move(what)};
}

// Parses `body` and reads the page head; `data` is the page's items.
boost::system::result<dom::array, read_error> page_head(dom::parser& parser, std::string_view body,
                                                        std::uint64_t& total, std::uint64_t& page,
                                                        std::uint64_t& page_size) {
    dom::element doc;
    if (parser.parse(body.data(), body.size()).get(doc)) return bad("not valid JSON");
    dom::object o;
    if (doc.get(o)) return bad("expected an object");
    if (o["total"].get(total)) return bad("\"total\" missing or not a whole number");
    if (o["page"].get(page)) return bad("\"page\" missing or not a whole number");
    if (o["pageSize"].get(page_size)) return bad("\"pageSize\" missing or not a whole number");
    dom::array data;
    if (o["data"].get(data)) return bad("\"data\" missing or not an array");
    return data;
}

bool optional_string(dom::object o, std::string_view key, std::string& out) {
    auto v = o[key];
    if (v.error() == simdjson::NO_SUCH_FIELD) return true;
    if (v.is_null()) return true;
    std::string_view s;
    if (v.get(s)) return false;
    out = s;
    return true;
}

}  // namespace

boost::system::result<contact_page, read_error> read_contact_page(std::string_view body) {
    dom::parser parser;
    contact_page p;
    auto data = page_head(parser, body, p.total, p.page, p.page_size);
    if (!data) return data.error();
    std::size_t i = 0;
    for (auto item : *data) {
        const std::string at = "data[" + std::to_string(i++) + "]";
        dom::object o;
        if (item.get(o)) return bad(at + ": expected an object");
        contact c;
        std::string_view email;
        if (o["emailAddress"].get(email)) return bad(at + ".emailAddress missing or not a string");
        c.email = email;
        if (o["id"].get(c.id)) return bad(at + ".id missing or not a whole number");
        if (!optional_string(o, "firstName", c.first_name) ||
            !optional_string(o, "lastName", c.last_name))
            return bad(at + ": firstName/lastName must be strings");
        auto fields = o["customFields"];
        if (fields.error() != simdjson::NO_SUCH_FIELD && !fields.is_null()) {
            dom::array arr;
            if (fields.get(arr)) return bad(at + ".customFields: expected an array");
            for (auto f : arr) {
                std::string_view name, value;
                if (f["name"].get(name) || f["value"].get(value))
                    return bad(at + ".customFields: each needs string \"name\" and \"value\"");
                c.fields.push_back({std::string(name), std::string(value)});
            }
        }
        p.contacts.push_back(std::move(c));
    }
    return p;
}

boost::system::result<list_page, read_error> read_list_page(std::string_view body) {
    dom::parser parser;
    list_page p;
    auto data = page_head(parser, body, p.total, p.page, p.page_size);
    if (!data) return data.error();
    std::size_t i = 0;
    for (auto item : *data) {
        const std::string at = "data[" + std::to_string(i++) + "]";
        list_info l;
        std::string_view name;
        if (item["id"].get(l.id)) return bad(at + ".id missing or not a whole number");
        if (item["name"].get(name)) return bad(at + ".name missing or not a string");
        l.name = name;
        if (item["contactCount"].get(l.contact_count))
            return bad(at + ".contactCount missing or not a whole number");
        p.lists.push_back(std::move(l));
    }
    return p;
}

std::string read_error_message(std::string_view body) {
    dom::parser parser;
    dom::element doc;
    if (parser.parse(body.data(), body.size()).get(doc)) return {};
    std::string_view s;
    if (!doc["message"].get(s) && !s.empty()) return std::string(s);
    if (!doc["error"].get(s)) return std::string(s);
    return {};
}

std::string contact_json(const contact& c) {
    std::string out = "{\"emailAddress\":\"";
    merge::append_json_escaped(out, c.email);
    out += "\",\"firstName\":\"";
    merge::append_json_escaped(out, c.first_name);
    out += "\",\"lastName\":\"";
    merge::append_json_escaped(out, c.last_name);
    out += "\",\"customFields\":[";
    for (std::size_t i = 0; i < c.fields.size(); ++i) {
        if (i) out += ',';
        out += "{\"name\":\"";
        merge::append_json_escaped(out, c.fields[i].name);
        out += "\",\"value\":\"";
        merge::append_json_escaped(out, c.fields[i].value);
        out += "\"}";
    }
    out += "]}";
    return out;
}

}  // namespace salvo::marketing
