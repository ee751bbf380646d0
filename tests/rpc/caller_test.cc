// Caller identity: exactly one peer_uri, from the AuthContext only.
#include <doctest/doctest.h>
#include <grpcpp/security/auth_context.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "enclave/rpc/caller.h"

namespace enclave::rpc {
namespace {

// AuthPropertyIterator's default constructor is protected; iteration is not used by the code
// under test, so an empty iterator suffices.
struct EmptyIterator : grpc::AuthPropertyIterator {
  EmptyIterator() = default;
};

class FakeAuthContext final : public grpc::AuthContext {
 public:
  bool authenticated = true;
  std::multimap<std::string, std::string> properties;

  bool IsPeerAuthenticated() const override { return authenticated; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override {
    return FindPropertyValues("x509_subject_alternative_name");
  }
  std::string GetPeerIdentityPropertyName() const override {
    return "x509_subject_alternative_name";
  }
  std::vector<grpc::string_ref> FindPropertyValues(const std::string& name) const override {
    std::vector<grpc::string_ref> out;
    auto [begin, end] = properties.equal_range(name);
    for (auto it = begin; it != end; ++it) out.emplace_back(it->second);
    return out;
  }
  grpc::AuthPropertyIterator begin() const override { return EmptyIterator(); }
  grpc::AuthPropertyIterator end() const override { return EmptyIterator(); }
  void AddProperty(const std::string& key, const grpc::string_ref& value) override {
    properties.emplace(key, std::string(value.data(), value.size()));
  }
  bool SetPeerIdentityPropertyName(const std::string&) override { return false; }
};

constexpr char kAnalyst[] = "spiffe://udc-lv.local/municipal_analyst/analyst1";
constexpr char kOfficer[] = "spiffe://udc-lv.local/privacy_officer/officer1";

}  // namespace

TEST_SUITE("Caller") {
  TEST_CASE("exactly one URI SAN is the caller id") {
    auto id = CallerFromPeerUris({kAnalyst});
    REQUIRE(id.ok());
    CHECK(*id == kAnalyst);
  }

  TEST_CASE("no URI SAN is unauthenticated and several are permission denied") {
    auto none = CallerFromPeerUris({});
    CHECK(none.status().code() == absl::StatusCode::kUnauthenticated);
    CHECK(none.status().message() == "the client certificate must carry exactly one URI SAN");
    auto empty = CallerFromPeerUris({""});
    CHECK(empty.status().code() == absl::StatusCode::kUnauthenticated);
    auto two = CallerFromPeerUris({kAnalyst, kOfficer});
    CHECK(two.status().code() == absl::StatusCode::kPermissionDenied);
    CHECK(two.status().message() == "the client certificate must carry exactly one URI SAN");
  }

  TEST_CASE("the caller comes from the peer_uri property of the AuthContext") {
    FakeAuthContext ctx;
    ctx.properties.emplace("x509_subject_alternative_name", "localhost");
    ctx.properties.emplace("x509_subject_alternative_name", kAnalyst);
    ctx.properties.emplace("peer_dns", "localhost");
    ctx.properties.emplace("peer_uri", kAnalyst);
    auto id = CallerFromAuthContext(&ctx);
    REQUIRE(id.ok());
    CHECK(*id == kAnalyst);
  }

  TEST_CASE("the generic peer identity and the common name are never used") {
    FakeAuthContext ctx;
    ctx.properties.emplace("x509_subject_alternative_name", kOfficer);
    ctx.properties.emplace("x509_common_name", kOfficer);
    auto id = CallerFromAuthContext(&ctx);
    CHECK(id.status().code() == absl::StatusCode::kUnauthenticated);
  }

  TEST_CASE("two URI SANs in the AuthContext are refused") {
    FakeAuthContext ctx;
    ctx.properties.emplace("peer_uri", kAnalyst);
    ctx.properties.emplace("peer_uri", kOfficer);
    CHECK(CallerFromAuthContext(&ctx).status().code() == absl::StatusCode::kPermissionDenied);
  }

  TEST_CASE("an unauthenticated peer or a missing AuthContext is refused") {
    FakeAuthContext ctx;
    ctx.authenticated = false;
    ctx.properties.emplace("peer_uri", kAnalyst);
    CHECK(CallerFromAuthContext(&ctx).status().code() == absl::StatusCode::kUnauthenticated);
    CHECK(CallerFromAuthContext(nullptr).status().code() == absl::StatusCode::kUnauthenticated);
  }
}

namespace {

// Runs a shell command and returns its standard output.
std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[512];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  REQUIRE(pclose(pipe) == 0);
  return out;
}

std::string Lower(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == ':' || c == '\n') continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

// A client certificate made by the openssl CLI, and what the CLI says about it (the oracle).
struct TestCert {
  std::string pem;
  std::string sha256;     // lower-case hex
  std::string serial;     // as openssl prints it, lower-cased
  std::string not_after;  // "YYYY-MM-DD HH:MM:SS"
};

// `eku`: the extendedKeyUsage extension's value, or "" for a certificate without one.
TestCert MakeCert(const std::string& eku = "") {
  char dir_template[] = "/tmp/caller_test_XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  Shell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + dir +
        "/k.pem -out " + dir + "/c.pem -days 17 -subj /CN=t -set_serial 0x00A1B2C3 "
        "-addext subjectAltName=URI:spiffe://lv/researcher/r1 " +
        (eku.empty() ? std::string() : "-addext extendedKeyUsage=" + eku + " ") + "2>/dev/null");
  TestCert cert;
  cert.pem = Shell("cat " + dir + "/c.pem");
  std::string fp = Shell("openssl x509 -in " + dir + "/c.pem -noout -fingerprint -sha256");
  cert.sha256 = Lower(fp.substr(fp.find('=') + 1));
  std::string serial = Shell("openssl x509 -in " + dir + "/c.pem -noout -serial");
  cert.serial = Lower(serial.substr(serial.find('=') + 1));
  cert.not_after = Shell("date -u -d \"$(openssl x509 -in " + dir +
                         "/c.pem -noout -enddate | cut -d= -f2)\" '+%Y-%m-%d %H:%M:%S'");
  cert.not_after.erase(cert.not_after.find_last_not_of('\n') + 1);
  Shell("rm -rf " + dir);
  return cert;
}

class ListSource final : public policy::RevocationSource {
 public:
  absl::StatusOr<std::shared_ptr<const policy::RevocationList>> Current() override {
    if (!status.ok()) return status;
    return std::make_shared<const policy::RevocationList>(list);
  }
  policy::RevocationList list;
  absl::Status status;
};

}  // namespace

TEST_SUITE("rpc/caller certificate") {
  TEST_CASE("the certificate's SHA-256, serial and notAfter match what openssl says") {
    const TestCert cert = MakeCert();
    absl::StatusOr<policy::CallerIdentity> facts = CertificateFacts(cert.pem);
    REQUIRE(facts.ok());
    CHECK(facts->cert_sha256 == cert.sha256);
    CHECK(facts->cert_sha256.size() == 64);
    CHECK(cert.serial == "a1b2c3");
    CHECK(facts->serial_hex == "a1b2c3");
    REQUIRE(facts->not_after.has_value());
    CHECK(absl::FormatTime("%Y-%m-%d %H:%M:%S", *facts->not_after, absl::UTCTimeZone()) ==
          cert.not_after);
    CHECK(CertificateFacts("not a certificate").status().code() ==
          absl::StatusCode::kUnauthenticated);
    CHECK(CertificateFacts("").status().code() == absl::StatusCode::kUnauthenticated);
  }

  TEST_CASE("the identity comes from the AuthContext's URI SAN and certificate only") {
    const TestCert cert = MakeCert();
    FakeAuthContext ctx;
    ctx.properties.emplace("peer_uri", kAnalyst);
    // Properties a client cannot set but that look like claims: ignored.
    ctx.properties.emplace("x-role", "privacy_officer");
    ctx.properties.emplace("x509_common_name", kOfficer);
    SUBCASE("no certificate") {
      CHECK(CallerIdentityFromAuthContext(&ctx).status().code() ==
            absl::StatusCode::kUnauthenticated);
    }
    SUBCASE("with the certificate") {
      ctx.properties.emplace("x509_pem_cert", cert.pem);
      absl::StatusOr<policy::CallerIdentity> id = CallerIdentityFromAuthContext(&ctx);
      REQUIRE(id.ok());
      CHECK(id->uri == kAnalyst);
      CHECK(id->cert_sha256 == cert.sha256);
      CHECK(id->serial_hex == "a1b2c3");
    }
    SUBCASE("an unauthenticated peer") {
      ctx.properties.emplace("x509_pem_cert", cert.pem);
      ctx.authenticated = false;
      CHECK(CallerIdentityFromAuthContext(&ctx).status().code() ==
            absl::StatusCode::kUnauthenticated);
    }
  }

  TEST_CASE("the process deny-list refuses a revoked certificate and fails closed") {
    policy::CallerIdentity id = policy::CallerIdentity::FromUri(kAnalyst);
    id.serial_hex = "a1b2c3";
    id.cert_sha256 = std::string(64, 'a');
    CHECK(CheckProcessRevocations(id).ok());  // no list installed
    auto source = std::make_shared<ListSource>();
    SetProcessRevocations(source);
    CHECK(CheckProcessRevocations(id).ok());
    source->list.serials.insert("a1b2c3");
    CHECK(CheckProcessRevocations(id).code() == absl::StatusCode::kPermissionDenied);
    source->list.serials.clear();
    source->list.cert_sha256.insert(id.cert_sha256);
    CHECK(CheckProcessRevocations(id).code() == absl::StatusCode::kPermissionDenied);
    source->list.cert_sha256.clear();
    source->status = absl::InvalidArgumentError("malformed");
    CHECK(CheckProcessRevocations(id).code() == absl::StatusCode::kPermissionDenied);
    SetProcessRevocations(nullptr);
    CHECK(CheckProcessRevocations(id).ok());
  }

  TEST_CASE("extendedKeyUsage clientAuth is required: none at all, or without it, is refused") {
    struct Case {
      std::string eku;
      bool client_auth;
    };
    for (const Case& c : {Case{"", false}, Case{"serverAuth", false}, Case{"codeSigning", false},
                          Case{"clientAuth", true}, Case{"serverAuth,clientAuth", true}}) {
      CAPTURE(c.eku);
      absl::StatusOr<policy::CallerIdentity> facts = CertificateFacts(MakeCert(c.eku).pem);
      REQUIRE(facts.ok());
      CHECK(facts->client_auth == c.client_auth);
      const absl::Status usage = policy::CheckClientCertificateUsage(*facts);
      CHECK(usage.ok() == c.client_auth);
      if (!c.client_auth) {
        CHECK(usage.code() == absl::StatusCode::kPermissionDenied);
        CHECK(std::string(usage.message()).find("extendedKeyUsage must include clientAuth") !=
              std::string::npos);
      }
    }
    // The fact travels with the identity both services take from the AuthContext.
    FakeAuthContext ctx;
    ctx.properties.emplace("peer_uri", kAnalyst);
    ctx.properties.emplace("x509_pem_cert", MakeCert("").pem);
    absl::StatusOr<policy::CallerIdentity> id = CallerIdentityFromAuthContext(&ctx);
    REQUIRE(id.ok());
    CHECK_FALSE(id->client_auth);
  }

  TEST_CASE("serials are normalised the way people write them") {
    CHECK(policy::NormalizeSerial("0x00A1:B2:C3") == "a1b2c3");
    CHECK(policy::NormalizeSerial("00A1B2C3") == "a1b2c3");
    CHECK(policy::NormalizeSerial("00") == "0");
  }
}

}  // namespace enclave::rpc
