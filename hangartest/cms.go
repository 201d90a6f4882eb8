package hangartest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"time"
)

// SignCMS wraps content in a CMS SignedData signed by key with signed
// attributes (content type, message digest) and cert inside: what an iOS
// device posts to a Profile Service URL.
func SignCMS(content []byte, cert *x509.Certificate, key crypto.Signer) ([]byte, error) {
	oidData := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	sum := sha256.Sum256(content)
	set := func(v any) asn1.RawValue {
		b, _ := asn1.Marshal(v)
		return asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: b}
	}
	type attribute struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue
	}
	a1, _ := asn1.Marshal(attribute{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}, set(oidData)})
	a2, _ := asn1.Marshal(attribute{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}, set(sum[:])})
	attrs := append(a1, a2...)
	setBytes, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: attrs})
	digest := sha256.Sum256(setBytes)
	var sig []byte
	var err error
	sigAlg := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		sig, err = ecdsa.SignASN1(rand.Reader, k, digest[:])
		sigAlg = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	}
	if err != nil {
		return nil, err
	}
	type issuerAndSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	type signerInfo struct {
		Version            int
		SID                issuerAndSerial
		DigestAlgorithm    pkix.AlgorithmIdentifier
		SignedAttrs        asn1.RawValue
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          []byte
	}
	type encap struct {
		ContentType asn1.ObjectIdentifier
		Content     []byte `asn1:"explicit,tag:0"`
	}
	type signedData struct {
		Version          int
		DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
		Encap            encap
		Certificates     asn1.RawValue
		SignerInfos      []signerInfo `asn1:"set"`
	}
	sha256OID := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}}
	sd, err := asn1.Marshal(signedData{
		Version: 1, DigestAlgorithms: []pkix.AlgorithmIdentifier{sha256OID},
		Encap:        encap{ContentType: oidData, Content: content},
		Certificates: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: cert.Raw},
		SignerInfos: []signerInfo{{
			Version: 1, SID: issuerAndSerial{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber},
			DigestAlgorithm:    sha256OID,
			SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: attrs},
			SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: sigAlg}, Signature: sig,
		}},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue // [0] EXPLICIT, written out: a RawValue's FullBytes would drop the tag
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}})
}

// DeviceIdentity is a self-signed certificate and key standing in for an
// iOS device's identity.
func DeviceIdentity() (*x509.Certificate, crypto.Signer) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "device"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}
