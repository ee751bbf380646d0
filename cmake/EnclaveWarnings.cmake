# One warning list, applied per target (never through CMAKE_CXX_FLAGS) so that
# generated and third-party code is not held to it.
set(ENCLAVE_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Woverloaded-virtual -Wold-style-cast -Wcast-qual -Wformat=2
    -Wimplicit-fallthrough -Wvla -Wmissing-declarations)
if(ENCLAVE_WERROR)
  list(APPEND ENCLAVE_WARNINGS -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  list(APPEND ENCLAVE_WARNINGS -Wthread-safety)
endif()
