# Install rules and the Debian packages (CPack DEB), docs/operator.md "Install".
#
#   cmake --preset release && cmake --build --preset release
#   (cd build/release && cpack -G DEB)    ->  enclave-server_<v>-1_amd64.deb, enclavectl_<v>-1_amd64.deb
#
# Two packages:
#   enclave-server  (component server) the enclave host: enclaved, enclave-steward, enclave-datagen,
#                   the systemd unit, the example configuration (a conffile), this release's
#                   reviewed policies as a starting point, the development PKI script, the
#                   nftables example, and the operators', stewards' and officers' guides.
#   enclavectl      (component client) the thin client for analysts, researchers and officers.
# enclave-datagen ships with the server: it is one small binary with no dependency beyond the
# server's, it is what an operator uses to check a new host end to end (docs/operator.md) before
# real deliveries arrive, and it writes only the file it is told to. A separate package would add
# an install step and nothing else.
#
# Maintainer scripts (deploy/debian/): the `enclaved` system user and the directories with their
# modes; the service is installed but neither enabled nor started; nothing in the state directory,
# the microdata or the operator's keys and policies is ever deleted (not on remove, not on purge).
include(GNUInstallDirs)
# `cmake --install` and cpack install the four programs without first building `all` (in a dev or
# CI tree that is every test too): build them first, e.g.
#   cmake --build build/release --target enclaved enclave-steward enclave-datagen enclavectl
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(ENCLAVE_DOC_SERVER ${CMAKE_INSTALL_DATAROOTDIR}/doc/enclave-server)
set(ENCLAVE_DOC_CLIENT ${CMAKE_INSTALL_DATAROOTDIR}/doc/enclavectl)
set(ENCLAVE_SHARE ${CMAKE_INSTALL_DATAROOTDIR}/enclaved)

# --- enclave-server ------------------------------------------------------------------------------
install(TARGETS enclaved enclave-steward enclave-datagen
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
# Debian 12 keeps packaged units in /lib/systemd/system (the same directory as /usr/lib/... on a
# merged-/usr system); /etc/systemd/system stays the operator's for overrides (systemctl edit).
install(FILES ${PROJECT_SOURCE_DIR}/deploy/enclaved.service
        DESTINATION /lib/systemd/system COMPONENT server)
# The configuration: a conffile (deploy/debian/conffiles), so dpkg never overwrites it once the
# operator changed it. The pristine copy stays in /usr/share/enclaved for comparison.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/enclaved.example.textproto
        DESTINATION /etc/enclaved RENAME enclaved.textproto COMPONENT server)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/enclaved.example.textproto
              ${PROJECT_SOURCE_DIR}/deploy/nftables.conf
        DESTINATION ${ENCLAVE_SHARE} COMPONENT server)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/deploy/dev-pki.sh DESTINATION ${ENCLAVE_SHARE} COMPONENT server)
# The policies of this release, as reviewed in the repository: where a new site starts from
# (docs/operator.md step 3 copies them to /etc/enclaved/policies). They are not installed into
# /etc: policies are the privacy officers', every template runs only under their per-deployment
# approval, and a package upgrade must never change a template under an approval.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/policies/ DESTINATION ${ENCLAVE_SHARE}/policies
        COMPONENT server FILES_MATCHING PATTERN "*.textproto" PATTERN "README.md")
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/SECURITY.md
              ${PROJECT_SOURCE_DIR}/docs/operator.md ${PROJECT_SOURCE_DIR}/docs/data-steward.md
              ${PROJECT_SOURCE_DIR}/docs/privacy-officer.md ${PROJECT_SOURCE_DIR}/docs/security.md
              ${PROJECT_SOURCE_DIR}/docs/audit-log.md
              ${PROJECT_SOURCE_DIR}/docs/disclosure-control.md
              ${PROJECT_SOURCE_DIR}/docs/differential-privacy.md
              ${PROJECT_SOURCE_DIR}/docs/domain.md ${PROJECT_SOURCE_DIR}/docs/performance.md
        DESTINATION ${ENCLAVE_DOC_SERVER} COMPONENT server)

# --- enclavectl ----------------------------------------------------------------------------------
install(TARGETS enclavectl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT client)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/analyst.md
              ${PROJECT_SOURCE_DIR}/docs/researcher.md ${PROJECT_SOURCE_DIR}/docs/privacy-officer.md
              ${PROJECT_SOURCE_DIR}/docs/audit-log.md
        DESTINATION ${ENCLAVE_DOC_CLIENT} COMPONENT client)

# --- CPack ---------------------------------------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME enclave)
set(CPACK_PACKAGE_VENDOR "Urban Data Center Leidschendam-Voorburg x CBS")
set(CPACK_PACKAGE_CONTACT "UDC enclave maintainers <enclave-maintainers@udc-lv.local>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # the CI build carries debug info; the packages do not
set(CPACK_COMPONENTS_ALL server client)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <name>_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends from the shared libraries the binaries link (dpkg-shlibdeps, Debian 12's symbols files).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_SERVER_PACKAGE_NAME enclave-server)
set(CPACK_DEBIAN_SERVER_PACKAGE_SECTION net)
# adduser: postinst creates the system user. Recommends: the tools the operator guide uses
# (backups with sqlite3, keys with openssl, the credential with systemd-creds, the firewall).
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_SERVER_PACKAGE_RECOMMENDS "systemd, sqlite3, openssl, nftables")
set(CPACK_COMPONENT_SERVER_DESCRIPTION
    "Urban Data Center data enclave server (enclaved, enclave-steward)\n\
enclaved holds linked person-level microdata and answers only approved, parameterised query\n\
templates over mutual TLS; disclosure control runs before any cell is released and every request\n\
is written to a tamper-evident query log. enclave-steward loads validated deliveries as dataset\n\
versions; enclave-datagen writes synthetic microdata for tests. Ships a hardened systemd unit\n\
(installed, not enabled), an example configuration and the reviewed policies to start from.")
set(CPACK_DEBIAN_SERVER_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/postinst ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
    ${PROJECT_SOURCE_DIR}/deploy/debian/postrm ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles)

set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME enclavectl)
set(CPACK_DEBIAN_CLIENT_PACKAGE_SECTION net)
set(CPACK_COMPONENT_CLIENT_DESCRIPTION
    "Urban Data Center data enclave client (enclavectl)\n\
Runs approved query templates on the enclave over mutual TLS and prints tables with confidential\n\
cells marked; privacy officers' audit and template-approval tools and the offline log verifier.")

include(CPack)
