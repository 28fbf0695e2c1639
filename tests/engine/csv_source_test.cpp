#include <salvo/engine/source.hpp>

#include "input.hpp"
#include "source_helpers.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <unistd.h>
#include <filesystem>
#include <random>
#include <thread>

namespace salvo::engine {
namespace {

using test::read_all;
using test::temp_dir;

TEST(CsvSource, ReadsHeaderAndRowsWithNumbers) {
    temp_dir dir;
    auto p = dir.write("people.csv", "email,name\na@x.io,Ann\nb@x.io,Bob\n");
    auto d = read_all(p);
    ASSERT_EQ(d.fields.size(), 2u);
    EXPECT_EQ(d.fields[0].name, "email");
    EXPECT_EQ(d.fields[1].name, "name");
    ASSERT_EQ(d.rows.size(), 2u);
    EXPECT_EQ(d.rows[0].at(0), "a@x.io");
    EXPECT_EQ(d.rows[0].at(1), "Ann");
    EXPECT_EQ(d.rows[0].row, 1u);
    EXPECT_EQ(d.rows[0].line, 2u);
    EXPECT_EQ(d.rows[1].at(1), "Bob");
    EXPECT_EQ(d.rows[1].row, 2u);
    EXPECT_EQ(d.rows[1].line, 3u);
    EXPECT_TRUE(d.rows[1].valid());
}

TEST(CsvSource, TrimsHeaderNamesAndGivesTemplateKeys) {
    temp_dir dir;
    auto p = dir.write("h.csv", " First Name ,\temail , e-mail (work)\nAnn,a@x.io,w@x.io\n");
    auto d = read_all(p);
    ASSERT_EQ(d.fields.size(), 3u);
    EXPECT_EQ(d.fields[0].name, "First Name");
    EXPECT_EQ(d.fields[0].key, "First_Name");
    EXPECT_EQ(d.fields[1].name, "email");
    EXPECT_EQ(d.fields[1].key, "email");
    EXPECT_EQ(d.fields[2].key, "e-mail_work_");
}

TEST(CsvSource, QuotedFieldsHoldDelimitersQuotesAndNewlines) {
    temp_dir dir;
    auto p = dir.write("q.csv",
                       "email,note\n"
                       "a@x.io,\"one, two\"\n"
                       "b@x.io,\"say \"\"hi\"\"\"\n"
                       "c@x.io,\"line1\nline2\nline3\"\n"
                       "d@x.io,\"\"\n"
                       "e@x.io,5\" disk\n");
    auto d = read_all(p);
    ASSERT_EQ(d.rows.size(), 5u);
    EXPECT_EQ(d.rows[0].at(1), "one, two");
    EXPECT_EQ(d.rows[1].at(1), "say \"hi\"");
    EXPECT_EQ(d.rows[2].at(1), "line1\nline2\nline3");
    EXPECT_EQ(d.rows[2].row, 3u);
    EXPECT_EQ(d.rows[2].line, 4u);
    // The record spanning three lines counts once; the next starts on line 7.
    EXPECT_EQ(d.rows[3].row, 4u);
    EXPECT_EQ(d.rows[3].line, 7u);
    EXPECT_EQ(d.rows[3].at(1), "");
    EXPECT_EQ(d.rows[4].at(1), "5\" disk");
    for (auto& r : d.rows) EXPECT_TRUE(r.valid()) << r.message;
}

TEST(CsvSource, AcceptsCrlfAndSkipsBomAndBlankLines) {
    temp_dir dir;
    auto p = dir.write("crlf.csv",
                       "\xEF\xBB\xBF"
                       "email,name\r\na@x.io,\"Ann\"\r\n\r\nb@x.io,Bob\r\n");
    auto d = read_all(p);
    ASSERT_EQ(d.fields.size(), 2u);
    EXPECT_EQ(d.fields[0].name, "email");
    ASSERT_EQ(d.rows.size(), 2u);
    EXPECT_EQ(d.rows[0].at(1), "Ann");
    EXPECT_EQ(d.rows[1].at(1), "Bob");
    EXPECT_EQ(d.rows[1].row, 2u);
    EXPECT_EQ(d.rows[1].line, 4u);
}

TEST(CsvSource, SemicolonAndTabDelimiters) {
    temp_dir dir;
    auto semi = read_all(dir.write("s.csv", "email;name\na@x.io;Ann, Jr.\n"));
    ASSERT_EQ(semi.rows.size(), 1u);
    EXPECT_EQ(semi.rows[0].at(1), "Ann, Jr.");
    auto tab = read_all(dir.write("t.tsv", "email\tname\na@x.io\tAnn;B\n"));
    ASSERT_EQ(tab.rows.size(), 1u);
    EXPECT_EQ(tab.rows[0].at(1), "Ann;B");
    source_options o;
    o.delimiter = ';';
    auto forced = read_all(dir.write("f.csv", "email;a,b\nx@y.io;1,2\n"), o);
    ASSERT_EQ(forced.fields.size(), 2u);
    EXPECT_EQ(forced.rows[0].at(1), "1,2");
}

TEST(CsvSource, RaggedRecordIsAnErrorForThatRecordOnly) {
    temp_dir dir;
    auto p =
        dir.write("ragged.csv", "email,name\na@x.io,Ann\nb@x.io\nc@x.io,Cy,extra\nd@x.io,Di\n");
    auto d = read_all(p);
    ASSERT_EQ(d.rows.size(), 4u);
    EXPECT_TRUE(d.rows[0].valid());
    EXPECT_EQ(d.rows[1].error, errc::field_count);
    EXPECT_NE(d.rows[1].message.find("ragged.csv: row 2, line 3"), std::string::npos)
        << d.rows[1].message;
    EXPECT_NE(d.rows[1].message.find("1 field, the header has 2"), std::string::npos);
    EXPECT_EQ(d.rows[1].at(0), "b@x.io");  // what was read is kept for the report
    EXPECT_EQ(d.rows[2].error, errc::field_count);
    EXPECT_TRUE(d.rows[3].valid());
    EXPECT_EQ(d.rows[3].at(1), "Di");
}

TEST(CsvSource, UnterminatedQuoteAtEofReadsOnFromTheNextLine) {
    temp_dir dir;
    auto p = dir.write("u.csv", "email,name\na@x.io,\"Ann\nb@x.io,Bob\nc@x.io,Cy\n");
    auto d = read_all(p);
    ASSERT_EQ(d.rows.size(), 3u);
    EXPECT_EQ(d.rows[0].error, errc::bad_quoting);
    EXPECT_NE(d.rows[0].message.find("row 1, line 2: field 'name'"), std::string::npos)
        << d.rows[0].message;
    EXPECT_NE(d.rows[0].message.find("never closed"), std::string::npos);
    EXPECT_EQ(d.rows[1].at(0), "b@x.io");
    EXPECT_EQ(d.rows[1].row, 2u);
    EXPECT_EQ(d.rows[1].line, 3u);
    EXPECT_TRUE(d.rows[1].valid());
    EXPECT_EQ(d.rows[2].line, 4u);
}

TEST(CsvSource, TextAfterClosingQuoteIsBadQuotingAndReadingGoesOn) {
    temp_dir dir;
    auto p = dir.write("b.csv", "email,name\na@x.io,\"Ann\"x\nb@x.io,Bob\n");
    auto d = read_all(p);
    ASSERT_EQ(d.rows.size(), 2u);
    EXPECT_EQ(d.rows[0].error, errc::bad_quoting);
    EXPECT_NE(d.rows[0].message.find("field 'name': text after the closing quote"),
              std::string::npos);
    EXPECT_TRUE(d.rows[1].valid());
    EXPECT_EQ(d.rows[1].line, 3u);
}

TEST(CsvSource, EmptyHeaderOnlyAndOneRowFiles) {
    temp_dir dir;
    auto empty = read_all(dir.write("e.csv", ""));
    EXPECT_TRUE(empty.fields.empty());
    EXPECT_TRUE(empty.rows.empty());
    auto header = read_all(dir.write("h.csv", "email,name\n"));
    EXPECT_EQ(header.fields.size(), 2u);
    EXPECT_TRUE(header.rows.empty());
    auto one = read_all(dir.write("o.csv", "email,name\na@x.io,Ann"));  // no final newline
    ASSERT_EQ(one.rows.size(), 1u);
    EXPECT_EQ(one.rows[0].at(1), "Ann");
}

TEST(CsvSource, GzipIsDecompressedTransparently) {
    temp_dir dir;
    std::string csv = "email,name\n";
    for (int i = 0; i < 5000; ++i)
        csv += "user" + std::to_string(i) + "@x.io,Name " + std::to_string(i) + "\n";
    std::string path = dir.path("big.csv.gz");
    gzFile gz = gzopen(path.c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    ASSERT_EQ(gzwrite(gz, csv.data(), static_cast<unsigned>(csv.size())),
              static_cast<int>(csv.size()));
    gzclose(gz);
    auto d = read_all(path);
    ASSERT_EQ(d.rows.size(), 5000u);
    EXPECT_EQ(d.rows[4999].at(0), "user4999@x.io");
    EXPECT_EQ(d.rows[4999].at(1), "Name 4999");
}

// What the dedupe table is sized by: a plain file's size, a gzip file's
// uncompressed size (from its trailer, whatever its name), nothing for what
// is not a regular file.
TEST(CsvSource, SizeHintIsTheUncompressedSize) {
    temp_dir dir;
    std::string csv = "email,name\n";
    for (int i = 0; i < 20000; ++i)
        csv += "user" + std::to_string(i) + "@x.io,Name " + std::to_string(i) + "\n";
    EXPECT_EQ(detail::input_size_hint(dir.write("plain.csv", csv)), csv.size());
    const std::string gz_path = dir.path("no-gz-suffix.csv");
    gzFile gz = gzopen(gz_path.c_str(), "wb");
    ASSERT_NE(gz, nullptr);
    ASSERT_EQ(gzwrite(gz, csv.data(), static_cast<unsigned>(csv.size())),
              static_cast<int>(csv.size()));
    gzclose(gz);
    ASSERT_LT(std::filesystem::file_size(gz_path), csv.size() / 4);  // it is compressed
    EXPECT_EQ(detail::input_size_hint(gz_path), csv.size());
    EXPECT_EQ(detail::input_size_hint(dir.path("missing.csv")), 0u);
    EXPECT_EQ(detail::input_size_hint(dir.path("")), 0u);  // a directory
}

TEST(CsvSource, CorruptGzipIsAJobError) {
    temp_dir dir;
    auto p = dir.write("bad.csv.gz", std::string("\x1f\x8b\x08\x00garbage-garbage-garbage", 27));
    auto src = open_source(p);
    ASSERT_FALSE(src);
    EXPECT_EQ(src.error().code, make_error_code(errc::bad_gzip));
}

TEST(CsvSource, Windows1252IsTranscoded) {
    temp_dir dir;
    // "José" with é = 0xE9, "€5" with € = 0x80 in windows-1252.
    auto p = dir.write("w.csv",
                       "email,name,price\na@x.io,Jos\xE9,\x80"
                       "5\n");
    source_options o;
    o.encoding = "windows-1252";
    auto d = read_all(p, o);
    ASSERT_EQ(d.rows.size(), 1u);
    EXPECT_EQ(d.rows[0].at(1), "Jos\xC3\xA9");
    EXPECT_EQ(d.rows[0].at(2),
              "\xE2\x82\xAC"
              "5");
    o.encoding = "latin-1";
    auto l = read_all(p, o);
    EXPECT_EQ(l.rows[0].at(1), "Jos\xC3\xA9");
}

TEST(CsvSource, InvalidUtf8MakesThatRowInvalid) {
    temp_dir dir;
    std::string csv = "email,name\n";
    for (int i = 0; i < 10; ++i) csv += "u" + std::to_string(i) + "@x.io,Ann\n";
    csv += "bad@x.io,Jos\xE9\n";
    auto d = read_all(dir.write("u.csv", csv));
    ASSERT_EQ(d.rows.size(), 11u);
    EXPECT_TRUE(d.rows[9].valid());
    EXPECT_EQ(d.rows[10].error, errc::invalid_utf8);
    EXPECT_NE(d.rows[10].message.find("row 11, line 12: field 'name' is not valid UTF-8"),
              std::string::npos)
        << d.rows[10].message;
}

// Found by the bad-input corpus (tests/data/bad/): a NUL byte in a name was
// merged into the request (and into the subject) as \u0000.
TEST(CsvSource, NulByteMakesThatRowInvalidAndNamesTheField) {
    temp_dir dir;
    std::string csv = "email,name\na@x.io,Ann\nb@x.io,B";
    csv += '\0';
    csv += "b\nc@x.io,\"C";
    csv += '\0';
    csv += "\"\"c\"\nd@x.io,Dee\n";
    auto d = read_all(dir.write("nul.csv", csv));
    ASSERT_EQ(d.rows.size(), 4u);
    EXPECT_TRUE(d.rows[0].valid());
    EXPECT_EQ(d.rows[1].error, errc::nul_byte);
    EXPECT_NE(d.rows[1].message.find("row 2, line 3: field 'name' holds a NUL byte"),
              std::string::npos)
        << d.rows[1].message;
    EXPECT_EQ(d.rows[2].error, errc::nul_byte);  // in a quoted value with "" too
    EXPECT_TRUE(d.rows[3].valid());
    EXPECT_EQ(d.rows[3].at(1), "Dee");
}

TEST(CsvSource, MostlyInvalidUtf8IsOneJobErrorSuggestingTheEncoding) {
    temp_dir dir;
    std::string csv = "email,name\n";
    for (int i = 0; i < 10; ++i) csv += "u" + std::to_string(i) + "@x.io,Jos\xE9\n";
    auto src = open_source(dir.write("latin.csv", csv));
    ASSERT_FALSE(src);
    EXPECT_EQ(src.error().code, make_error_code(errc::wrong_encoding));
    EXPECT_NE(src.error().message.find("encoding"), std::string::npos);
    EXPECT_NE(src.error().message.find("latin.csv"), std::string::npos);
}

TEST(CsvSource, JobErrorsForMissingFileDirectoryAndBadOptions) {
    temp_dir dir;
    auto missing = open_source(dir.path("nope.csv"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, make_error_code(errc::file_not_found));
    EXPECT_NE(missing.error().message.find("nope.csv: no such file"), std::string::npos);
    auto isdir = open_source(dir.path(""));
    ASSERT_FALSE(isdir);
    auto p = dir.write("ok.csv", "email\na@x.io\n");
    source_options o;
    o.encoding = "ebcdic";
    auto enc = open_source(p, o);
    ASSERT_FALSE(enc);
    EXPECT_EQ(enc.error().code, make_error_code(errc::unknown_encoding));
    o = {};
    o.delimiter = '|';
    auto delim = open_source(p, o);
    ASSERT_FALSE(delim);
    EXPECT_EQ(delim.error().code, make_error_code(errc::bad_option));
    auto binary = open_source(dir.write("bin.csv", std::string("a\0b,c\n1,2\n", 10)));
    ASSERT_FALSE(binary);
    EXPECT_EQ(binary.error().code, make_error_code(errc::not_the_format));
}

// The same file read with tiny chunks must give the same rows as one big
// chunk: every record boundary case crosses a chunk edge somewhere.
TEST(CsvSource, TinyChunksGiveTheSameRows) {
    temp_dir dir;
    std::string csv = "email,name,note\n";
    for (int i = 0; i < 300; ++i) {
        std::string n = std::to_string(i);
        switch (i % 6) {
            case 0:
                csv += "a" + n + "@x.io,Ann " + n + ",plain\n";
                break;
            case 1:
                csv += "b" + n + "@x.io,\"Q, " + n + "\",\"multi\nline \"\"" + n + "\"\"\"\r\n";
                break;
            case 2:
                csv += "c" + n + "@x.io,short\n";
                break;  // ragged
            case 3:
                csv += "d" + n + "@x.io,\"x\"y,z\n";
                break;  // bad quoting
            case 4:
                csv += "\n";
                break;
            default:
                csv += "e" + n + "@x.io,\"" + std::string(100, 'z') + "\",end\n";
                break;
        }
    }
    auto p = dir.write("m.csv", csv);
    auto big = read_all(p);
    source_options o;
    o.chunk_bytes = 64;
    o.max_record_bytes = 4096;
    auto small = read_all(p, o);
    ASSERT_EQ(big.rows.size(), small.rows.size());
    EXPECT_GT(small.chunks, 100u);
    for (std::size_t i = 0; i < big.rows.size(); ++i) {
        EXPECT_EQ(big.rows[i].values, small.rows[i].values) << "row " << i;
        EXPECT_EQ(big.rows[i].line, small.rows[i].line) << "row " << i;
        EXPECT_EQ(big.rows[i].error, small.rows[i].error) << "row " << i;
    }
}

// Random well-formed files (fields with delimiters, quotes, CR and LF,
// empty fields, CRLF or LF line ends) read back exactly what was written,
// at any chunk size.
TEST(CsvSource, RandomWellFormedFilesReadBackExactly) {
    temp_dir dir;
    std::mt19937 rng(1234);
    const std::string alphabet = "ab,;\t\"\r\n xy\xC3\xA9";
    for (int round = 0; round < 20; ++round) {
        const std::size_t cols = 1 + rng() % 5;
        const char delim = ",;\t"[rng() % 3];
        const std::string eol = rng() % 2 ? "\r\n" : "\n";
        std::vector<std::vector<std::string>> rows;
        std::string file;
        for (std::size_t c = 0; c < cols; ++c) {
            file += (c ? std::string(1, delim) : "") + "col" + std::to_string(c);
        }
        file += eol;
        const int nrows = 1 + static_cast<int>(rng() % 60);
        for (int r = 0; r < nrows; ++r) {
            std::vector<std::string> row;
            for (std::size_t c = 0; c < cols; ++c) {
                std::string v;
                const std::size_t len = rng() % 12;
                for (std::size_t k = 0; k < len; ++k) {
                    char ch = alphabet[rng() % alphabet.size()];
                    if (ch == '\xC3') {
                        v += "\xC3\xA9";
                        continue;
                    }
                    if (ch == '\xA9') ch = 'z';
                    v += ch;
                }
                // A one-column record must not be empty (a blank line is no record).
                if (cols == 1 && v.empty()) v = "e";
                row.push_back(v);
                const bool quote =
                    v.find_first_of(std::string("\"\r\n") + delim) != std::string::npos ||
                    rng() % 4 == 0;
                if (c) file += delim;
                if (quote) {
                    file += '"';
                    for (char ch : v) file += ch == '"' ? std::string("\"\"") : std::string(1, ch);
                    file += '"';
                } else {
                    file += v;
                }
            }
            rows.push_back(row);
            if (r + 1 < nrows || rng() % 2) file += eol;
        }
        auto p = dir.write("r" + std::to_string(round) + ".csv", file);
        for (std::size_t chunk_bytes : {std::size_t{64}, std::size_t{100}, std::size_t{1} << 20}) {
            source_options o;
            o.delimiter = delim;
            o.chunk_bytes = chunk_bytes;
            auto d = read_all(p, o);
            ASSERT_EQ(d.rows.size(), rows.size()) << "round " << round;
            for (std::size_t r = 0; r < rows.size(); ++r) {
                ASSERT_TRUE(d.rows[r].valid()) << d.rows[r].message;
                for (std::size_t c = 0; c < cols; ++c) {
                    ASSERT_EQ(d.rows[r].at(c), rows[r][c])
                        << "round " << round << " row " << r << " col " << c;
                }
            }
        }
    }
}

TEST(CsvSource, RecordLongerThanTheLimitIsSkippedToTheNextLine) {
    temp_dir dir;
    std::string csv = "email,note\na@x.io,\"" + std::string(10000, 'x') + "\nb@x.io,ok\n";
    source_options o;
    o.chunk_bytes = 1024;
    o.max_record_bytes = 2048;
    auto d = read_all(dir.write("long.csv", csv), o);
    ASSERT_EQ(d.rows.size(), 2u);
    EXPECT_EQ(d.rows[0].error, errc::record_too_long);
    EXPECT_NE(d.rows[0].message.find("row 1, line 2"), std::string::npos);
    EXPECT_EQ(d.rows[1].at(0), "b@x.io");
    EXPECT_EQ(d.rows[1].line, 3u);
    EXPECT_LE(d.max_chunk_memory, 256u * 1024);
}

// Found by the bad-input corpus (tests/data/bad/): a 100 000-column header
// was reported as "line 1 is not a CSV header row".
TEST(CsvSource, HeaderWiderThanTheLimitSaysHowWide) {
    temp_dir dir;
    std::string text = "email";
    for (int i = 1; i < 20000; ++i) text += ",c" + std::to_string(i);
    text += "\na@x.io\n";
    auto p = dir.write("wide.csv", text);
    auto src = open_source(p);
    ASSERT_FALSE(src);
    EXPECT_NE(src.error().message.find("the header row has 20000 fields; at most 16384"),
              std::string::npos)
        << src.error().message;
}

TEST(CsvSource, CrOnlyLineEndingsAreRefusedNotReadAsOneHeader) {
    // Without the check the whole file was one header row of 7 fields and
    // no rows: a silent drop of every recipient.
    temp_dir dir;
    auto src = open_source(dir.write("mac.csv", "email,name\ra@x.io,A\rb@x.io,B\r"));
    ASSERT_FALSE(src);
    EXPECT_EQ(src.error().code, errc::not_the_format);
    EXPECT_NE(src.error().message.find("mac.csv: line 1 ends with a bare CR"), std::string::npos)
        << src.error().message;
    // CRLF and a CR inside a quoted value are fine.
    EXPECT_TRUE(open_source(dir.write("crlf.csv", "email,name\r\na@x.io,\"A\rB\"\r\n")));
}

TEST(CsvSource, ReadsAPipeFileDescriptor) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    std::thread writer([w = fds[1]] {
        std::string data = "email,name\n";
        for (int i = 0; i < 20000; ++i) data += "p" + std::to_string(i) + "@x.io,P\n";
        std::size_t off = 0;
        while (off < data.size()) {
            ssize_t n = ::write(w, data.data() + off, data.size() - off);
            if (n <= 0) break;
            off += static_cast<std::size_t>(n);
        }
        ::close(w);
    });
    auto src = open_fd(fds[0], true, "pipe");
    ASSERT_TRUE(src) << src.error().message;
    auto d = test::drain(**src);
    writer.join();
    ASSERT_EQ(d.rows.size(), 20000u);
    EXPECT_EQ(d.rows[19999].at(0), "p19999@x.io");
}

TEST(CsvSource, DashReadsStandardInput) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    int saved = ::dup(0);
    ASSERT_GE(saved, 0);
    ASSERT_EQ(::dup2(fds[0], 0), 0);
    ::close(fds[0]);
    const std::string data = "email,name\nin@x.io,Stdin\n";
    ASSERT_EQ(::write(fds[1], data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fds[1]);
    auto src = open_source("-");
    test::drained d;
    if (src) d = test::drain(**src);
    ::dup2(saved, 0);
    ::close(saved);
    ASSERT_TRUE(src);
    EXPECT_EQ((*src)->name(), "stdin");
    ASSERT_EQ(d.rows.size(), 1u);
    EXPECT_EQ(d.rows[0].at(1), "Stdin");
}

}  // namespace
}  // namespace salvo::engine
