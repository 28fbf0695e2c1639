#include "attachments.hpp"

#include <openssl/evp.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include <fcntl.h>
#include <unistd.h>

namespace salvo::receiver::detail {
namespace {

std::atomic<std::uint64_t> next_temp{0};

EVP_MD_CTX* ctx(void* p) noexcept {
    return static_cast<EVP_MD_CTX*>(p);
}

bool write_all(int fd, const unsigned char* data, std::size_t size) noexcept {
    while (size > 0) {
        const auto n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

attachment_stage::attachment_stage(std::filesystem::path spool, std::filesystem::path store)
    : spool_(std::move(spool)), store_(std::move(store)), digest_(EVP_MD_CTX_new()) {}

attachment_stage::~attachment_stage() {
    discard();
    EVP_MD_CTX_free(ctx(digest_));
}

void attachment_stage::begin(platform::inbound_attachment&) {
    current_ = spool_ / ("attachment-" + std::to_string(::getpid()) + "-" +
                         std::to_string(next_temp.fetch_add(1, std::memory_order_relaxed)));
    fd_ = ::open(current_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) failed_ = true;
    EVP_DigestInit_ex(ctx(digest_), EVP_sha256(), nullptr);
}

void attachment_stage::write(const unsigned char* data, std::size_t size) {
    EVP_DigestUpdate(ctx(digest_), data, size);
    if (fd_ >= 0 && !write_all(fd_, data, size)) failed_ = true;
}

void attachment_stage::end(platform::inbound_attachment& a) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx(digest_), md, &len);
    const bool wrote = fd_ >= 0 && ::fdatasync(fd_) == 0;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!wrote) failed_ = true;
    if (!a.error.empty() || !wrote) {
        // Invalid base64 is stored as its error, without a file.
        std::error_code ec;
        std::filesystem::remove(current_, ec);
        return;
    }
    static constexpr char hex[] = "0123456789abcdef";
    a.sha256.clear();
    for (unsigned int i = 0; i < len; ++i) {
        a.sha256 += hex[md[i] >> 4];
        a.sha256 += hex[md[i] & 15];
    }
    staged_.push_back({current_, a.sha256});
}

bool attachment_stage::commit() {
    if (failed_) {
        discard();
        return false;
    }
    for (auto& s : staged_) {
        const auto target = store_ / s.sha256;
        std::error_code ec;
        if (std::filesystem::exists(target, ec)) {
            std::filesystem::remove(s.temp, ec);
        } else {
            std::filesystem::rename(s.temp, target, ec);
            if (ec) {
                failed_ = true;
                discard();
                return false;
            }
        }
        s.temp.clear();
    }
    staged_.clear();
    // The renames are durable once the folder is.
    const int dfd = ::open(store_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return true;
}

void attachment_stage::discard() noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
        std::error_code ec;
        std::filesystem::remove(current_, ec);
    }
    for (const auto& s : staged_) {
        std::error_code ec;
        if (!s.temp.empty()) std::filesystem::remove(s.temp, ec);
    }
    staged_.clear();
}

}  // namespace salvo::receiver::detail
