#pragma once
// Attachments of one inbound post, staged while the parser decodes them:
// each goes to a temporary file in the spool folder while its SHA-256 is
// computed (OpenSSL), and only after the post passed its checks does
// commit() move it to `attachments/<sha256>` (content-addressed: the same
// file sent twice is stored once). discard() (or the destructor) removes
// what was staged. One object per post, one thread.

#include <salvo/platform/inbound.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace salvo::receiver::detail {

class attachment_stage final : public platform::attachment_sink {
  public:
    attachment_stage(std::filesystem::path spool, std::filesystem::path store);
    ~attachment_stage() override;
    attachment_stage(const attachment_stage&) = delete;
    attachment_stage& operator=(const attachment_stage&) = delete;

    void begin(platform::inbound_attachment& a) override;
    void write(const unsigned char* data, std::size_t size) override;
    void end(platform::inbound_attachment& a) override;

    /// True when a file could not be written (disk full…): answer 503.
    [[nodiscard]] bool failed() const noexcept { return failed_; }
    /// Makes the staged files durable under their SHA-256 names; false
    /// (everything staged removed) when that fails.
    [[nodiscard]] bool commit();
    void discard() noexcept;

  private:
    struct staged {
        std::filesystem::path temp;
        std::string sha256;
    };
    std::filesystem::path spool_, store_;
    std::vector<staged> staged_;
    int fd_ = -1;
    void* digest_ = nullptr;  // EVP_MD_CTX*
    std::filesystem::path current_;
    bool failed_ = false;
};

}  // namespace salvo::receiver::detail
