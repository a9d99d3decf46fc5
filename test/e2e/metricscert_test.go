package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The chart's metrics.certSecretName mounts a Secret and passes --metrics-cert-path: the manager must serve
// that certificate, and the renewed one after a cert-manager rotation, without a restart.
var _ = Describe("The metrics endpoint with a provided certificate", func() {
	It("serves the certificate from --metrics-cert-path and picks up its renewal", func() {
		dir, err := os.MkdirTemp(workDir, "metrics-certs-")
		Expect(err).NotTo(HaveOccurred())
		writeCert(dir, "netprofile-metrics-1")

		m := startManagerIn(env, append(append([]string{}, deploymentArgs...), "--metrics-cert-path="+dir), "metrics-cert")
		Eventually(servedCN(m.metrics)).Should(Equal("netprofile-metrics-1"))

		writeCert(dir, "netprofile-metrics-2")
		Eventually(servedCN(m.metrics)).WithTimeout(time.Minute).Should(Equal("netprofile-metrics-2"))
		m.stop()
	})
})

// writeCert writes a self-signed tls.crt and tls.key with the common name, as a mounted Secret would hold.
func writeCert(dir, cn string) {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	keyDER, err := x509.MarshalECPrivateKey(key)
	Expect(err).NotTo(HaveOccurred())
	// Key first, then certificate, each by rename: the watcher must never read a mismatched pair for long.
	for _, f := range []struct {
		name, typ string
		der       []byte
	}{{"tls.key", "EC PRIVATE KEY", keyDER}, {"tls.crt", "CERTIFICATE", der}} {
		tmp := filepath.Join(dir, "."+f.name)
		Expect(os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600)).To(Succeed())
		Expect(os.Rename(tmp, filepath.Join(dir, f.name))).To(Succeed())
	}
}

// servedCN is the common name of the certificate the metrics endpoint presents.
func servedCN(addr string) func() (string, error) {
	return func() (string, error) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reading the certificate, not trusting it
		if err != nil {
			return "", err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName, nil
	}
}
