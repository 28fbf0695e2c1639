#pragma once
// Test helpers: read a request body back (simdjson, which salvo::injection
// links), turn it into the emails a server would deliver, with a naive
// server-side merge (plain %%NAME%%, PerMessage over Global, one pass), so
// local and server mode can be compared email by email.

#include <simdjson.h>

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace salvo::injection::test {

struct email {
    std::string to, to_name, from, from_name, reply_to, reply_to_name;
    std::string subject, text, html, amp, mailing_id, message_id, charset;
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<std::string> attachments;  // "name|type|id|content"
    std::vector<std::string> metadata;     // "key=value"
    std::vector<std::string> tags;
    bool operator==(const email&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const email& e) {
    os << "{to=" << e.to << " name=" << e.to_name << " from=" << e.from << "/" << e.from_name
       << " reply=" << e.reply_to << "/" << e.reply_to_name << " subject=" << e.subject
       << " text=" << e.text << " html=" << e.html << " amp=" << e.amp << " ids=" << e.mailing_id
       << "/" << e.message_id << " headers=";
    for (const auto& [n, v] : e.headers) os << n << ":" << v << ";";
    return os << "}";
}

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
}

// A naive server merge: `%%NAME%%`, NAME = letter {letter|digit|_|-},
// looked up case-insensitively; a `%%` that starts no placeholder is literal
// and the scan moves on by one `%`. Unknown names render empty.
inline std::string server_merge(std::string_view t, const std::map<std::string, std::string>& v) {
    const auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
    const auto namec = [&](char c) {
        return alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
    };
    std::string out;
    std::size_t i = 0;
    while (i < t.size()) {
        if (t[i] == '%' && i + 1 < t.size() && t[i + 1] == '%' && i + 2 < t.size() &&
            alpha(t[i + 2])) {
            std::size_t k = i + 3;
            while (k < t.size() && namec(t[k])) ++k;
            if (k + 1 < t.size() && t[k] == '%' && t[k + 1] == '%') {
                auto it = v.find(lower(t.substr(i + 2, k - i - 2)));
                if (it != v.end()) out += it->second;
                i = k + 2;
                continue;
            }
        }
        out += t[i++];
    }
    return out;
}

// Parses a request body and returns the delivered emails, merging server
// messages with server_merge. Fails the test on invalid JSON.
class wire_model {
  public:
    std::vector<email> emails;
    std::optional<std::uint64_t> server_id;
    std::optional<std::string> api_key;
    std::size_t messages = 0;
    std::vector<std::size_t> rows_per_message;

    explicit wire_model(std::string_view body) {
        simdjson::padded_string padded(body);
        simdjson::dom::element root;
        const auto err = parser_.parse(padded).get(root);
        valid = !err;
        if (err) {
            ADD_FAILURE() << "not JSON (" << simdjson::error_message(err) << "): " << body;
            return;
        }
        std::uint64_t id = 0;
        if (!root["ServerId"].get_uint64().get(id)) server_id = id;
        std::string_view key;
        if (!root["ApiKey"].get_string().get(key)) api_key = std::string(key);
        simdjson::dom::array msgs;
        if (root["Messages"].get_array().get(msgs)) {
            ADD_FAILURE() << "no Messages";
            return;
        }
        for (auto m : msgs) read_message(m);
    }
    bool valid = false;

  private:
    static std::string str(simdjson::dom::element e, std::string_view key) {
        std::string_view s;
        if (e[key].get_string().get(s)) return {};
        return std::string(s);
    }

    void read_message(simdjson::dom::element m) {
        ++messages;
        email base;
        simdjson::dom::element to0;
        simdjson::dom::array to;
        if (!m["To"].get_array().get(to) && to.size() > 0) to0 = to.at(0);
        base.to = str(to0, "EmailAddress");
        base.to_name = str(to0, "FriendlyName");
        base.from = str(m["From"], "EmailAddress");
        base.from_name = str(m["From"], "FriendlyName");
        simdjson::dom::element reply;
        if (!m["ReplyTo"].get(reply)) {
            base.reply_to = str(reply, "EmailAddress");
            base.reply_to_name = str(reply, "FriendlyName");
        }
        base.subject = str(m, "Subject");
        base.text = str(m, "TextBody");
        base.html = str(m, "HtmlBody");
        base.amp = str(m, "AmpBody");
        base.mailing_id = str(m, "MailingId");
        base.message_id = str(m, "MessageId");
        base.charset = str(m, "CharSet");
        simdjson::dom::array arr;
        if (!m["CustomHeaders"].get_array().get(arr))
            for (auto h : arr) base.headers.emplace_back(str(h, "Name"), str(h, "Value"));
        if (!m["Attachments"].get_array().get(arr))
            for (auto a : arr)
                base.attachments.push_back(str(a, "Name") + "|" + str(a, "ContentType") + "|" +
                                           str(a, "ContentId") + "|" + str(a, "Content"));
        if (!m["Metadata"].get_array().get(arr))
            for (auto a : arr) base.metadata.push_back(str(a, "Key") + "=" + str(a, "Value"));
        if (!m["Tags"].get_array().get(arr))
            for (auto a : arr) {
                std::string_view s;
                if (!a.get_string().get(s)) base.tags.emplace_back(s);
            }
        simdjson::dom::element merge;
        if (m["MergeData"].get(merge)) {
            rows_per_message.push_back(1);
            emails.push_back(std::move(base));
            return;
        }
        std::map<std::string, std::string> globals;
        if (!merge["Global"].get_array().get(arr))
            for (auto f : arr) globals[lower(str(f, "Field"))] = str(f, "Value");
        simdjson::dom::array rows;
        if (merge["PerMessage"].get_array().get(rows)) {
            ADD_FAILURE() << "MergeData without PerMessage";
            return;
        }
        rows_per_message.push_back(rows.size());
        for (auto row : rows) {
            auto values = globals;
            simdjson::dom::array fields;
            if (row.get_array().get(fields)) {
                ADD_FAILURE() << "a row that is not an array";
                continue;
            }
            std::map<std::string, int> seen;
            for (auto f : fields) {
                const auto name = lower(str(f, "Field"));
                if (++seen[name] > 1) ADD_FAILURE() << "duplicate row field " << name;
                values[name] = str(f, "Value");
            }
            email e;
            const auto mm = [&](const std::string& t) { return server_merge(t, values); };
            e.to = values.count("deliveryaddress") ? values["deliveryaddress"] : "";
            EXPECT_EQ(base.to, "%%DeliveryAddress%%");
            e.to_name = mm(base.to_name);
            e.from = mm(base.from);
            e.from_name = mm(base.from_name);
            e.reply_to = mm(base.reply_to);
            e.reply_to_name = mm(base.reply_to_name);
            e.subject = mm(base.subject);
            e.text = mm(base.text);
            e.html = mm(base.html);
            e.amp = mm(base.amp);
            e.mailing_id = mm(base.mailing_id);
            e.message_id = mm(base.message_id);
            e.charset = base.charset;
            for (const auto& [n, v] : base.headers) e.headers.emplace_back(n, mm(v));
            e.attachments = base.attachments;
            e.metadata = base.metadata;
            e.tags = base.tags;
            emails.push_back(std::move(e));
        }
    }

    simdjson::dom::parser parser_;
};

}  // namespace salvo::injection::test
