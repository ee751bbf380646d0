# enclave_cc_library(NAME x SRCS ... DEPS <public> ... PRIVATE_DEPS ...)
# One component = one folder = one static library enclave_x with alias enclave::x.
function(enclave_cc_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(enclave_${A_NAME} STATIC ${A_SRCS})
  add_library(enclave::${A_NAME} ALIAS enclave_${A_NAME})
  target_include_directories(enclave_${A_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(enclave_${A_NAME} PUBLIC ${A_DEPS} PRIVATE ${A_PRIVATE_DEPS})
  target_compile_options(enclave_${A_NAME} PRIVATE ${ENCLAVE_WARNINGS})
endfunction()

# enclave_cc_test(NAME x SRCS ... DEPS ...): one doctest binary, one CTest test per TEST_CASE.
function(enclave_cc_test)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(enclave_${A_NAME}_test ${A_SRCS})
  target_link_libraries(enclave_${A_NAME}_test PRIVATE ${A_DEPS} enclave_test_main)
  target_compile_options(enclave_${A_NAME}_test PRIVATE ${ENCLAVE_WARNINGS})
  doctest_discover_tests(enclave_${A_NAME}_test TEST_PREFIX "${A_NAME}/"
    PROPERTIES LABELS "${A_NAME};${A_LABELS}")
endfunction()
