#include <salvo/platform/error.hpp>
#include <salvo/platform/event.hpp>
#include <salvo/platform/timestamp.hpp>

#include <gtest/gtest.h>

namespace salvo::platform {
namespace {

std::vector<event> parse(std::string_view body, body_format f,
                         boost::system::error_code* ec = nullptr, std::string* reason = nullptr) {
    event_parser p;
    std::vector<event> out;
    const auto e = p.parse(body, f, out, reason);
    if (ec)
        *ec = e;
    else
        EXPECT_FALSE(e) << e.message() << (reason ? *reason : "");
    return out;
}

TEST(EventParser, ReadsARealShapedLegacyFormPost) {
    const auto events = parse(
        "Type=Delivered&DateTime=Tue%2C%2014%20Aug%202018%2016%3A35%3A37%20GMT&MailingId=&"
        "MessageId=m-1&Address=ann%40example.com&SecretKey=s3cret&RemoteMta=mx.example.com&"
        "ServerId=12345&Response=250%202.0.0%20OK+queued&LocalIp=192.0.2.1&FromAddress=f%40x.com",
        body_format::form);
    ASSERT_EQ(events.size(), 1u);
    const auto& e = events[0];
    EXPECT_EQ(e.type, event_type::delivered);
    EXPECT_EQ(e.address, "ann@example.com");
    EXPECT_EQ(e.message_id, "m-1");
    EXPECT_EQ(e.mailing_id, "");
    EXPECT_EQ(e.server_id, "12345");
    EXPECT_EQ(e.secret_key, "s3cret");
    EXPECT_EQ(e.reason, "250 2.0.0 OK queued");
    ASSERT_TRUE(e.time_ms);
    EXPECT_EQ(format_iso8601(*e.time_ms), "2018-08-14T16:35:37.000Z");
    EXPECT_EQ(e.raw.find("s3cret"), std::string::npos) << "the secret is never kept in raw";
    EXPECT_NE(e.raw.find(R"("RemoteMta":"mx.example.com")"), std::string::npos) << e.raw;
    EXPECT_NE(e.raw.find(R"("LocalIp":"192.0.2.1")"), std::string::npos) << e.raw;
}

TEST(EventParser, ReadsJsonObjectsAndArraysWithAnyNameCase) {
    const auto one =
        parse(R"({"type":"Failed","DATETIME":"2021-07-01T10:00:00.250+02:00","address":"b@x.com",)"
              R"("FailureType":1,"FailureCode":2001,"Reason":"no such user","SecretKey":"k",)"
              R"("Data":{"Meta":[{"Key":"a","Value":"b"}],"Tags":["t"]},"NewThing":[1,2]})",
              body_format::json);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0].type, event_type::failed);
    EXPECT_EQ(one[0].failure_type, 1);
    EXPECT_EQ(one[0].failure_code, 2001);
    EXPECT_EQ(format_iso8601(*one[0].time_ms), "2021-07-01T08:00:00.250Z");
    EXPECT_EQ(state_of(one[0]), delivery_state::bounced);
    EXPECT_NE(one[0].raw.find(R"("NewThing":[1,2])"), std::string::npos) << one[0].raw;
    EXPECT_NE(one[0].raw.find(R"("Data":{"Meta":[{"Key":"a","Value":"b"}],"Tags":["t"]})"),
              std::string::npos);
    EXPECT_EQ(one[0].raw.find("SecretKey"), std::string::npos);

    const auto many = parse(R"([{"Type":"Queued","Address":"a@x.com"},{"Type":"Tracking",)"
                            R"("TrackingType":"2","Url":"https://u"}])",
                            body_format::json);
    ASSERT_EQ(many.size(), 2u);
    EXPECT_EQ(many[1].tracking_type, 2);
    EXPECT_EQ(state_of(many[1]), delivery_state::unsubscribed);
}

TEST(EventParser, KeepsUnknownTypesAsSent) {
    const auto events = parse(R"({"Type":"Bounce2","Address":"a@x.com"})", body_format::json);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, event_type::unknown);
    EXPECT_EQ(events[0].type_name, "Bounce2");
    EXPECT_EQ(state_of(events[0]), delivery_state::no_event);
}

TEST(EventParser, EveryDocumentedTypeIsRecognised) {
    for (std::string_view name :
         {"Queued", "Deferred", "Delivered", "Failed", "Tracking", "Complaint", "Validation"}) {
        const auto events = parse("Type=" + std::string(name), body_format::form);
        ASSERT_EQ(events.size(), 1u);
        EXPECT_EQ(to_string(events[0].type), name);
    }
}

TEST(EventParser, RefusesGarbageWithAReason) {
    struct bad {
        std::string body;
        body_format format;
        errc code;
    };
    const std::vector<bad> cases{
        {"", body_format::json, errc::empty_body},
        {"{\"Type\":", body_format::json, errc::bad_json},
        {"42", body_format::json, errc::bad_json},
        {"[1]", body_format::json, errc::not_an_object},
        {R"({"Address":"a@x.com"})", body_format::json, errc::missing_type},
        {R"({"Type":"Queued","DateTime":"yesterday"})", body_format::json, errc::bad_date_time},
        {R"({"Type":"Failed","FailureType":"x"})", body_format::json, errc::bad_number},
        {"Type=Queued&Address=%G1", body_format::form, errc::bad_percent_encoding},
        {"Type=Queued&Address=%4", body_format::form, errc::bad_percent_encoding},
        {"=x&Type=Queued", body_format::form, errc::bad_form},
        {"Type=Queued&Address=%C5%C5", body_format::form, errc::bad_form},
    };
    for (const auto& c : cases) {
        boost::system::error_code ec;
        std::string reason;
        const auto events = parse(c.body, c.format, &ec, &reason);
        EXPECT_EQ(ec, make_error_code(c.code)) << c.body << " → " << ec.message();
        EXPECT_FALSE(reason.empty()) << c.body;
        EXPECT_TRUE(events.empty());
    }
}

TEST(EventParser, AnErrorLeavesEarlierEventsOfTheOutputAlone) {
    event_parser p;
    std::vector<event> out;
    ASSERT_FALSE(p.parse(R"({"Type":"Queued"})", body_format::json, out));
    EXPECT_TRUE(p.parse(R"([{"Type":"Queued"},{"x":1}])", body_format::json, out));
    EXPECT_EQ(out.size(), 1u);
}

TEST(FormDecode, PlusIsASpaceAndPercentIsAByte) {
    std::string out;
    ASSERT_TRUE(form_decode("a+b%2Bc%20d%e2%82%ac", out));
    EXPECT_EQ(out, "a b+c d\xe2\x82\xac");
}

TEST(ContentType, NamesTheTwoEncodings) {
    EXPECT_EQ(format_of("application/json; charset=utf-8"), body_format::json);
    EXPECT_EQ(format_of("Application/X-WWW-Form-Urlencoded"), body_format::form);
    EXPECT_EQ(format_of("text/plain"), std::nullopt);
}

TEST(DeliveryState, PrecedenceIsTheDeclaredOrder) {
    // complained > unsubscribed > bounced > delivered > soft_bounced > deferred > queued > no_event
    EXPECT_GT(delivery_state::complained, delivery_state::unsubscribed);
    EXPECT_GT(delivery_state::unsubscribed, delivery_state::bounced);
    EXPECT_GT(delivery_state::bounced, delivery_state::delivered);
    EXPECT_GT(delivery_state::delivered, delivery_state::soft_bounced);
    EXPECT_GT(delivery_state::soft_bounced, delivery_state::deferred);
    EXPECT_GT(delivery_state::deferred, delivery_state::queued);
    EXPECT_GT(delivery_state::queued, delivery_state::no_event);
    EXPECT_EQ(state_of(event_type::failed, 0, std::nullopt), delivery_state::soft_bounced);
    EXPECT_EQ(state_of(event_type::failed, 2, std::nullopt), delivery_state::bounced);
    EXPECT_EQ(state_of(event_type::tracking, std::nullopt, 1), delivery_state::no_event);
    EXPECT_EQ(state_of(event_type::complaint, std::nullopt, std::nullopt),
              delivery_state::complained);
    EXPECT_EQ(to_string(delivery_state::soft_bounced), "soft_bounced");
}

TEST(Identity, TrackingEventsDifferByUrl) {
    event a;
    a.type = event_type::tracking;
    a.tracking_type = 0;
    a.url = "https://one";
    event b = a;
    b.url = "https://two";
    EXPECT_NE(identity_extra(a), identity_extra(b));
}

TEST(Timestamp, ParsesBothFormats) {
    EXPECT_EQ(parse_rfc1123("Tue, 14 Aug 2018 16:35:37 GMT"), 1534264537000);
    EXPECT_EQ(parse_rfc1123("14 Aug 2018 18:35:37 +0200"), 1534264537000);
    EXPECT_EQ(parse_iso8601("2018-08-14T16:35:37Z"), 1534264537000);
    EXPECT_EQ(parse_iso8601("2018-08-14T16:35:37"), 1534264537000);
    EXPECT_EQ(parse_iso8601("2018-08-14T12:35:37.5-04:00"), 1534264537500);
    EXPECT_EQ(parse_iso8601("2018-08-14 16:35:37.1234567Z"), 1534264537123);
    EXPECT_EQ(parse_date_time("Tue, 14 Aug 2018 16:35:37 GMT"), 1534264537000);
    EXPECT_EQ(parse_iso8601("2018-02-30T00:00:00Z"), std::nullopt);
    EXPECT_EQ(parse_rfc1123("Tue, 14 Foo 2018 16:35:37 GMT"), std::nullopt);
    EXPECT_EQ(parse_iso8601("2018-08-14T16:35:37Zjunk"), std::nullopt);
    EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_iso8601(951782400000), "2000-02-29T00:00:00.000Z");
}

}  // namespace
}  // namespace salvo::platform
