#include <salvo/merge/error.hpp>

#include <string>

namespace salvo::merge {
namespace {

class merge_category_impl final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "salvo.merge"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::unknown_modifier:
                return "unknown modifier (use raw or url)";
            case errc::unclosed_placeholder:
                return "placeholder not closed with %% on its line";
            case errc::bad_fallback:
                return "malformed modifier or fallback";
            case errc::unknown_field:
                return "no column or global provides this field";
            case errc::global_breaks_header:
                return "global value holds a line break in a header";
            case errc::header_injection:
                return "value holds a line break (CR or LF) in a header";
            case errc::missing_value:
                return "value is empty and the placeholder has no fallback";
            case errc::bad_text:
                return "template is not UTF-8 text";
        }
        return "unknown salvo.merge error";
    }
};

}  // namespace

const boost::system::error_category& merge_category() noexcept {
    static const merge_category_impl instance;
    return instance;
}

}  // namespace salvo::merge
