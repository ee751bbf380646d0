# The one global setting: sanitizers must instrument every object in the link.
if(ENCLAVE_SANITIZE)
  list(JOIN ENCLAVE_SANITIZE "," enclave_sanitizers)
  add_compile_options(-fsanitize=${enclave_sanitizers} -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${enclave_sanitizers})
endif()

# libFuzzer (tests/fuzz): coverage instrumentation everywhere, the fuzzer runtime only in the
# fuzz targets (tests/fuzz/CMakeLists.txt links them with -fsanitize=fuzzer).
if(ENCLAVE_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "ENCLAVE_FUZZ needs clang (e.g. -DCMAKE_CXX_COMPILER=clang++-14); "
                        "with GCC the fuzz targets are built as corpus replays instead")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
