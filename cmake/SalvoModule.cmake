# salvo_module(NAME [PUBLIC deps...] [PRIVATE deps...])
#
# Declares the library target salvo_NAME with its alias salvo::NAME from the
# folder's include/ (public headers, salvo/NAME/*.hpp) and src/ (sources).
# A module whose sources have not been written yet is an INTERFACE target, so
# the layout and the names are fixed before the code exists.
function(salvo_module name)
  cmake_parse_arguments(ARG "" "" "PUBLIC;PRIVATE" ${ARGN})
  set(target salvo_${name})
  file(GLOB sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/src/*.cpp")
  if(sources)
    add_library(${target} STATIC ${sources})
    target_include_directories(${target}
      PUBLIC
        $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
        $<INSTALL_INTERFACE:include>
      PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
    target_link_libraries(${target} PUBLIC ${ARG_PUBLIC} PRIVATE ${ARG_PRIVATE}
      $<BUILD_INTERFACE:salvo::warnings> $<BUILD_INTERFACE:salvo::sanitize>)
    target_compile_features(${target} PUBLIC cxx_std_20)
    set_target_properties(${target} PROPERTIES
      OUTPUT_NAME salvo_${name} POSITION_INDEPENDENT_CODE ON)
  else()
    add_library(${target} INTERFACE)
    if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/include")
      target_include_directories(${target} INTERFACE
        $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
        $<INSTALL_INTERFACE:include>)
    endif()
    target_link_libraries(${target} INTERFACE ${ARG_PUBLIC})
  endif()
  add_library(salvo::${name} ALIAS ${target})
  # Installed as salvo::NAME too (salvoTargets.cmake, see the top level).
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  install(TARGETS ${target} EXPORT salvoTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/include")
    install(DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/include/" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endfunction()

# salvo_test_suite(MODULE LIBS...)
#
# One GoogleTest executable per module (tests/MODULE/*_test.cpp), each test
# registered with CTest through gtest_discover_tests.
function(salvo_test_suite module)
  file(GLOB sources CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp")
  if(NOT sources)
    return()
  endif()
  set(target salvo_${module}_tests)
  add_executable(${target} ${sources})
  target_link_libraries(${target} PRIVATE ${ARGN} salvo::test_support
    GTest::gtest_main GTest::gmock salvo::warnings salvo::sanitize)
  gtest_discover_tests(${target}
    TEST_PREFIX "${module}."
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${module}")
endfunction()
