#include <salvo/reporting/reader.hpp>

#include <simdjson.h>

namespace salvo::reporting {

namespace {

namespace dom = simdjson::dom;

read_error bad(std::string what) {
    return read_error{"the Reporting API answer is not the expected JSON: " + std::move(what)};
}

bool text(dom::object o, std::string_view key, std::string& out) {
    auto v = o[key];
    if (v.error() == simdjson::NO_SUCH_FIELD || v.is_null()) return true;
    std::string_view s;
    if (!v.get(s)) {
        out = s;
        return true;
    }
    std::int64_t n = 0;
    if (!v.get(n)) {  // ids sometimes come as numbers
        out = std::to_string(n);
        return true;
    }
    return false;
}

}  // namespace

boost::system::result<report_page, read_error> read_report_page(std::string_view body) {
    dom::parser parser;
    dom::element doc;
    if (parser.parse(body.data(), body.size()).get(doc)) return bad("not valid JSON");
    dom::object o;
    if (doc.get(o)) return bad("expected an object");
    report_page p;
    if (o["totalCount"].get(p.total)) return bad("\"totalCount\" missing or not a whole number");
    if (o["index"].get(p.index)) p.index = 0;
    if (o["count"].get(p.count)) p.count = 0;
    dom::array rows;
    if (o["collection"].get(rows)) return bad("\"collection\" missing or not an array");
    std::size_t i = 0;
    for (auto item : rows) {
        const std::string at = "collection[" + std::to_string(i++) + "]";
        dom::object r;
        if (item.get(r)) return bad(at + ": expected an object");
        report_row row;
        if (!text(r, "DateTime", row.date_time) || !text(r, "MessageId", row.message_id) ||
            !text(r, "MailingId", row.mailing_id) || !text(r, "ToAddress", row.to) ||
            !text(r, "FromAddress", row.from) || !text(r, "Reason", row.reason))
            return bad(at + ": a text field is neither a string nor a number");
        auto ft = r["FailureType"];
        if (ft.error() != simdjson::NO_SUCH_FIELD && !ft.is_null() && ft.get(row.failure_type))
            return bad(at + ".FailureType: expected a number");
        auto fc = r["FailureCode"];
        if (fc.error() != simdjson::NO_SUCH_FIELD && !fc.is_null() && fc.get(row.failure_code))
            return bad(at + ".FailureCode: expected a number");
        p.rows.push_back(std::move(row));
    }
    return p;
}

}  // namespace salvo::reporting
