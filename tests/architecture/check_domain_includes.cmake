# Fails if any source under the domain folders includes an adapter or wire header.
#
#   cmake -DROOT=<dir holding base/ templates/ ...> -P check_domain_includes.cmake
#
# Domain folders: base, templates, disclosure, policy, core (style.md §1). Forbidden: gRPC,
# protobuf (and the generated enclave/v1/ headers), OpenSSL, SQLite, COIN-OR.
if(NOT DEFINED ROOT)
  message(FATAL_ERROR "pass -DROOT=<directory holding the domain folders>")
endif()
if(NOT DEFINED DOMAIN_DIRS)
  set(DOMAIN_DIRS base templates disclosure dp policy core)
endif()

# COIN-OR headers are included by their bare names too ("ClpSimplex.hpp", "CbcModel.hpp",
# "CoinPackedMatrix.hpp", "OsiClpSolverInterface.hpp").
set(forbidden "grpcpp/|grpc/|google/protobuf/|openssl/|sqlite3\\.h|coin/|coin-or/|Clp[A-Za-z_]*\\.hpp|Cbc[A-Za-z_]*\\.hpp|Coin[A-Za-z_]*\\.hpp|Osi[A-Za-z_]*\\.hpp|enclave/v1/")
set(include_re "^[ \t]*#[ \t]*include[ \t]*[<\"](${forbidden})")

set(files "")
foreach(dir IN LISTS DOMAIN_DIRS)
  file(GLOB_RECURSE found LIST_DIRECTORIES false
       "${ROOT}/${dir}/*.h" "${ROOT}/${dir}/*.hh" "${ROOT}/${dir}/*.hpp"
       "${ROOT}/${dir}/*.cc" "${ROOT}/${dir}/*.cpp" "${ROOT}/${dir}/*.inc")
  list(APPEND files ${found})
endforeach()
list(LENGTH files count)
if(count EQUAL 0)
  # A wrong ROOT must not pass silently.
  message(FATAL_ERROR "no sources found under ${ROOT} in: ${DOMAIN_DIRS}")
endif()

set(violations "")
foreach(f IN LISTS files)
  file(STRINGS "${f}" lines REGEX "^[ \t]*#[ \t]*include")
  foreach(line IN LISTS lines)
    if(line MATCHES "${include_re}")
      file(RELATIVE_PATH rel "${ROOT}" "${f}")
      string(STRIP "${line}" line)
      string(APPEND violations "\n  ${rel}: ${line}")
    endif()
  endforeach()
endforeach()

if(violations)
  message(FATAL_ERROR "domain code includes adapter or wire headers "
                      "(move the dependency behind a port in an adapter):${violations}")
endif()
message(STATUS "domain include check: ${count} files clean")
