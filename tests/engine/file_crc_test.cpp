// file_crc32(): the recipients file's identity in the journal's header must
// stay zlib's CRC-32 of the whole file, however many pieces it is read in,
// or every journal written before would look like another campaign's.
#include "file_crc.hpp"

#include <gtest/gtest.h>

#include <zlib.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace salvo::engine::detail {
namespace {

namespace fs = std::filesystem;

class FileCrc : public ::testing::Test {
  protected:
    void SetUp() override {
        // The process id too: the ASan and Release trees may run it at once.
        dir_ = fs::temp_directory_path() /
               ("salvo-file-crc-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path write(const std::string& name, const std::string& bytes) {
        const auto p = dir_ / name;
        std::ofstream(p, std::ios::binary) << bytes;
        return p;
    }
    static std::uint32_t zlib_crc(const std::string& s) {
        return static_cast<std::uint32_t>(
            crc32_z(0L, reinterpret_cast<const Bytef*>(s.data()), s.size()));
    }
    fs::path dir_;
};

TEST_F(FileCrc, EqualsZlibsCrcOfTheWholeFileForAnyNumberOfPieces) {
    std::mt19937_64 rng(42);
    // Sizes around the 16 MiB a piece needs and the 1 MiB a read takes,
    // odd ones so that the pieces differ in length.
    for (const std::size_t size :
         {std::size_t{0}, std::size_t{1}, std::size_t{4095}, (std::size_t{1} << 20) + 3,
          (std::size_t{33} << 20) + 7, (std::size_t{70} << 20) + 1}) {
        std::string bytes(size, '\0');
        for (auto& c : bytes) c = static_cast<char>(rng());
        const auto p = write(std::to_string(size) + ".bytes", bytes);
        const auto want = zlib_crc(bytes);
        for (const unsigned parts : {0u, 1u, 2u, 3u, 4u}) {
            const auto got = file_crc32(p, parts);
            ASSERT_TRUE(got.has_value()) << size << " bytes, " << parts << " parts";
            EXPECT_EQ(*got, want) << size << " bytes, " << parts << " parts";
        }
        fs::remove(p);
    }
}

TEST_F(FileCrc, AFileThatCannotBeOpenedHasNone) {
    EXPECT_FALSE(file_crc32(dir_ / "absent").has_value());
    EXPECT_FALSE(file_crc32(dir_).has_value());  // a directory: open works, pread fails
}

}  // namespace
}  // namespace salvo::engine::detail
