# The include check must fail on each forbidden include, pass on a clean tree and fail on an
# empty one, so that it cannot pass silently.
#
#   cmake -DCHECK=<check_domain_includes.cmake> -DSCRATCH=<temp dir> -P check_detects_bad_include.cmake
if(NOT DEFINED CHECK OR NOT DEFINED SCRATCH)
  message(FATAL_ERROR "pass -DCHECK=<script> -DSCRATCH=<directory>")
endif()

function(run_check root out_result)
  execute_process(COMMAND "${CMAKE_COMMAND}" -DROOT=${root} -P "${CHECK}"
                  RESULT_VARIABLE result OUTPUT_QUIET ERROR_QUIET)
  set(${out_result} "${result}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${SCRATCH}")

# A clean tree passes.
file(WRITE "${SCRATCH}/clean/core/ok.cc"
     "#include \"enclave/core/ports.h\"\n#include <vector>\n// #include <openssl/evp.h> in a comment is text\n")
run_check("${SCRATCH}/clean" result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the check failed on a clean tree")
endif()

# An empty tree fails.
file(MAKE_DIRECTORY "${SCRATCH}/empty")
run_check("${SCRATCH}/empty" result)
if(result EQUAL 0)
  message(FATAL_ERROR "the check passed on a tree without sources")
endif()

# Each forbidden include, in each domain folder and spelling, fails.
set(cases
  "base|#include <grpcpp/grpcpp.h>"
  "templates|#include <grpc/grpc.h>"
  "disclosure|#include \"google/protobuf/message.h\""
  "policy|  #  include <openssl/evp.h>"
  "core|#include <sqlite3.h>"
  "core|#include \"coin/ClpSimplex.hpp\""
  "disclosure|#include \"ClpSimplex.hpp\""
  "disclosure|#include \"CbcModel.hpp\""
  "core|#include <CoinPackedMatrix.hpp>"
  "core|#include \"OsiClpSolverInterface.hpp\""
  "core|#include \"enclave/v1/service.pb.h\""
  "core/sub|#include <openssl/sha.h>")
set(i 0)
foreach(c IN LISTS cases)
  string(REPLACE "|" ";" parts "${c}")
  list(GET parts 0 dir)
  list(GET parts 1 line)
  set(root "${SCRATCH}/bad${i}")
  file(WRITE "${root}/${dir}/bad.h" "#pragma once\n${line}\n")
  run_check("${root}" result)
  if(result EQUAL 0)
    message(FATAL_ERROR "the check passed on a tree with '${line}' in ${dir}/")
  endif()
  math(EXPR i "${i} + 1")
endforeach()

file(REMOVE_RECURSE "${SCRATCH}")
message(STATUS "include check: detects all ${i} bad includes")
