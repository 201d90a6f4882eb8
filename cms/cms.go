// Package cms verifies a CMS SignedData (RFC 5652) that carries its
// content, as iOS sends a Profile Service answer: the device attributes, a
// property list, signed with the device's identity. It checks that a
// signer's signature verifies with the certificate the message carries; it
// does not decide whom to trust (the caller checks what the content says,
// such as a challenge it issued).
package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	_ "crypto/sha1" // digests iOS may use
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// Budgets for one message: its bytes, the ASN.1 elements read while
// normalizing it, their nesting, its certificates and signers.
const (
	MaxBytes    = 64 << 10
	maxElements = 4096
	maxDepth    = 32
	maxCerts    = 8
	maxSigners  = 4
)

var (
	// ErrInvalid means the bytes are not a SignedData within the budgets.
	ErrInvalid = errors.New("cms: not a signed message")
	// ErrUnsigned means a SignedData without a signer, or without content.
	ErrUnsigned = errors.New("cms: the message is not signed")
	// ErrSignature means no signer's signature verifies.
	ErrSignature = errors.New("cms: the signature does not verify")
)

var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	digests          = map[string]crypto.Hash{
		"1.3.14.3.2.26":          crypto.SHA1,
		"2.16.840.1.101.3.4.2.1": crypto.SHA256,
		"2.16.840.1.101.3.4.2.2": crypto.SHA384,
		"2.16.840.1.101.3.4.2.3": crypto.SHA512,
	}
)

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

// signedData is a SignedData's outer structure: the one definition both
// Verify and Content read. Certificates [0], CRLs [1] and the SET of
// signer infos follow the encapsulated content, in that order; they are
// read as raw values here (Content needs none of them, and a profile
// writer may leave some out) and taken apart by parts.
type signedData struct {
	Version             int
	DigestAlgorithms    asn1.RawValue
	Encap               encapContent
	Rest1, Rest2, Rest3 asn1.RawValue `asn1:"optional"`
}

// parts returns the bytes of the certificate set and the signer infos.
func (sd signedData) parts() (certs []byte, signers []signerInfo, err error) {
	for _, raw := range []asn1.RawValue{sd.Rest1, sd.Rest2, sd.Rest3} {
		switch {
		case len(raw.FullBytes) == 0:
		case raw.Class == asn1.ClassContextSpecific && raw.Tag == 0:
			certs = raw.Bytes
		case raw.Class == asn1.ClassContextSpecific && raw.Tag == 1: // CRLs: not used
		case raw.Class == asn1.ClassUniversal && raw.Tag == asn1.TagSet && signers == nil:
			if rest, err := asn1.UnmarshalWithParams(raw.FullBytes, &signers, "set"); err != nil || len(rest) != 0 {
				return nil, nil, fmt.Errorf("%w: signer infos: %v", ErrInvalid, err)
			}
		default:
			return nil, nil, fmt.Errorf("%w: unexpected element after the content", ErrInvalid)
		}
	}
	return certs, signers, nil
}

// outer reads a DER SignedData's outer structure.
func outer(der []byte) (signedData, error) {
	var ci contentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) != 0 || !ci.ContentType.Equal(oidSignedData) {
		return signedData{}, fmt.Errorf("%w: not a SignedData", ErrInvalid)
	}
	var sd signedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) != 0 {
		return signedData{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return sd, nil
}

// Content returns the content a DER SignedData of at most maxBytes
// carries, without verifying any signature: what a reader of an iOS
// provisioning profile needs (the phone checks Apple's signature at
// install). It returns ErrInvalid for anything else.
func Content(der []byte, maxBytes int) ([]byte, error) {
	if len(der) > maxBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrInvalid, maxBytes)
	}
	sd, err := outer(der)
	if err != nil {
		return nil, err
	}
	if len(sd.Encap.Content) == 0 {
		return nil, fmt.Errorf("%w: no content", ErrInvalid)
	}
	return sd.Encap.Content, nil
}

type encapContent struct {
	ContentType asn1.ObjectIdentifier
	Content     []byte `asn1:"explicit,optional,tag:0"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue
}

// Verify returns the content of a SignedData and the certificate of a
// signer whose signature over it verifies. BER (indefinite lengths,
// chunked strings), as some signers write, is accepted.
func Verify(data []byte) (content []byte, signer *x509.Certificate, err error) {
	if len(data) > MaxBytes {
		return nil, nil, fmt.Errorf("%w: more than %d bytes", ErrInvalid, MaxBytes)
	}
	der, err := toDER(data)
	if err != nil {
		return nil, nil, err
	}
	sd, err := outer(der)
	if err != nil {
		return nil, nil, err
	}
	certBytes, signers, err := sd.parts()
	if err != nil {
		return nil, nil, err
	}
	if len(signers) == 0 || len(sd.Encap.Content) == 0 {
		return nil, nil, ErrUnsigned
	}
	if len(signers) > maxSigners {
		return nil, nil, fmt.Errorf("%w: more than %d signers", ErrInvalid, maxSigners)
	}
	certs, err := certificates(certBytes)
	if err != nil {
		return nil, nil, err
	}
	for _, si := range signers {
		cert := signerCert(si.SID, certs)
		if cert == nil {
			continue
		}
		if verifySigner(si, cert, sd.Encap) == nil {
			return sd.Encap.Content, cert, nil
		}
	}
	return nil, nil, ErrSignature
}

func certificates(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for len(b) > 0 {
		var raw asn1.RawValue
		rest, err := asn1.Unmarshal(b, &raw)
		if err != nil {
			return nil, fmt.Errorf("%w: certificates: %v", ErrInvalid, err)
		}
		b = rest
		if raw.Class != asn1.ClassUniversal || raw.Tag != asn1.TagSequence {
			continue // another CertificateChoices kind: not a signer's
		}
		if len(out) == maxCerts {
			return nil, fmt.Errorf("%w: more than %d certificates", ErrInvalid, maxCerts)
		}
		c, err := x509.ParseCertificate(raw.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate: %v", ErrInvalid, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// signerCert finds the certificate a SignerIdentifier names: issuer and
// serial number, or [0] subject key identifier.
func signerCert(sid asn1.RawValue, certs []*x509.Certificate) *x509.Certificate {
	if sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 {
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c
			}
		}
		return nil
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil || ias.Serial == nil {
		return nil
	}
	for _, c := range certs {
		if c.SerialNumber.Cmp(ias.Serial) == 0 && bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) {
			return c
		}
	}
	return nil
}

func verifySigner(si signerInfo, cert *x509.Certificate, encap encapContent) error {
	h, ok := digests[si.DigestAlgorithm.Algorithm.String()]
	if !ok {
		return fmt.Errorf("cms: digest %v not supported", si.DigestAlgorithm.Algorithm)
	}
	sum := h.New()
	sum.Write(encap.Content)
	digest := sum.Sum(nil)
	if len(si.SignedAttrs.FullBytes) > 0 {
		// The signature covers the attributes (with the SET tag they have
		// as a whole, not the [0] they carry here), which must hold the
		// content's digest and type.
		var gotDigest []byte
		var gotType asn1.ObjectIdentifier
		for rest := si.SignedAttrs.Bytes; len(rest) > 0; {
			var a attribute
			var err error
			if rest, err = asn1.Unmarshal(rest, &a); err != nil {
				return err
			}
			switch {
			case a.Type.Equal(oidMessageDigest):
				if _, err := asn1.Unmarshal(a.Values.Bytes, &gotDigest); err != nil {
					return err
				}
			case a.Type.Equal(oidContentType):
				if _, err := asn1.Unmarshal(a.Values.Bytes, &gotType); err != nil {
					return err
				}
			}
		}
		if !bytes.Equal(gotDigest, digest) || !gotType.Equal(encap.ContentType) {
			return ErrSignature
		}
		attrs := bytes.Clone(si.SignedAttrs.FullBytes)
		attrs[0] = 0x31 // SET
		sum = h.New()
		sum.Write(attrs)
		digest = sum.Sum(nil)
	}
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(pub, h, digest, si.Signature)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, si.Signature) {
			return ErrSignature
		}
		return nil
	}
	return fmt.Errorf("cms: %T keys not supported", cert.PublicKey)
}
