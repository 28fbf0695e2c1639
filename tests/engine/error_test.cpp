#include <salvo/engine/error.hpp>
#include <salvo/engine/job.hpp>

#include <gtest/gtest.h>

#include <stdexcept>

#include <boost/system/result.hpp>

namespace salvo::engine {
namespace {

TEST(EngineError, CodesHaveTheirCategoryAndMessages) {
    boost::system::error_code ec = errc::wrong_encoding;
    EXPECT_STREQ(ec.category().name(), "salvo.engine");
    EXPECT_EQ(ec.message(), "input is not UTF-8");
    EXPECT_EQ(boost::system::error_code(errc::field_count).message(), "wrong number of fields");
    EXPECT_NE(ec, boost::system::error_code(errc::bad_json));
}

// The report's JSON keeps every byte of a stop detail a server may have
// written: quotes, backslashes and control characters escaped, not dropped.
TEST(Report, StopDetailIsEscapedNotTrimmed) {
    report r;
    r.status = job_status::stopped_auth;
    r.stop_detail =
        "server said \"no\"\tC:\\x\n\x01"
        "end";
    const std::string json = r.to_json();
    EXPECT_NE(json.find(R"("stop_detail":"server said \"no\"\tC:\\x\n\u0001end")"),
              std::string::npos)
        << json;
}

TEST(EngineError, ResultValueThrowsTheMessage) {
    boost::system::result<int, source_error> r =
        source_error{make_error_code(errc::file_not_found), "people.csv: no such file"};
    try {
        (void)r.value();
        FAIL() << "value() did not throw";
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "people.csv: no such file");
    }
}

}  // namespace
}  // namespace salvo::engine
