# salvo::warnings carries the warning set (and -Werror when SALVO_WERROR is
# on); salvo::sanitize carries the sanitizer flags. Every salvo target links
# both privately, so embedding projects never inherit them.

add_library(salvo_warnings INTERFACE)
add_library(salvo::warnings ALIAS salvo_warnings)
target_compile_options(salvo_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion $<$<COMPILE_LANGUAGE:CXX>:-Wold-style-cast>)
if(SALVO_WERROR)
  target_compile_options(salvo_warnings INTERFACE -Werror)
  # g++ 12 at -O2 raises known false positives in inlined std code
  # (GCC PR105329 and relatives): keep them visible, not fatal.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(salvo_warnings INTERFACE
      -Wno-error=restrict -Wno-error=stringop-overflow -Wno-error=array-bounds
      -Wno-error=maybe-uninitialized)
  endif()
endif()

add_library(salvo_sanitize INTERFACE)
add_library(salvo::sanitize ALIAS salvo_sanitize)
if(SALVO_SANITIZE)
  string(REPLACE ";" "," _salvo_san "${SALVO_SANITIZE}")
  target_compile_options(salvo_sanitize INTERFACE
    -fsanitize=${_salvo_san} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(salvo_sanitize INTERFACE -fsanitize=${_salvo_san})
endif()
