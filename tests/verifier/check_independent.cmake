# The offline verifier must stay an independent code path (docs/security.md §1.7): no source in
# client/verifier includes an enclave/ header, and its library links no enclave:: target.
# Usage: cmake -DDIR=<client/verifier> -P check_independent.cmake
file(GLOB sources ${DIR}/*.h ${DIR}/*.cc)
if(NOT sources)
  message(FATAL_ERROR "no verifier sources found in ${DIR}")
endif()
foreach(f ${sources})
  file(STRINGS ${f} bad REGEX "#include[ \t]*[\"<]enclave/")
  if(bad)
    message(FATAL_ERROR "${f} includes writer code: ${bad}")
  endif()
endforeach()
file(STRINGS ${DIR}/CMakeLists.txt links REGEX "enclave::")
if(links)
  message(FATAL_ERROR "client/verifier/CMakeLists.txt links an enclave:: target: ${links}")
endif()
