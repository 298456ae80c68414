package kmsemu

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsjson"
)

// Values of the KMS model that the emulator supports.
const (
	symmetricDefault = "SYMMETRIC_DEFAULT"
	encryptDecrypt   = "ENCRYPT_DECRYPT"
	originAWSKMS     = "AWS_KMS"
)

// Limits from the KMS model.
const (
	maxKeyIDLength       = 2048
	maxAliasNameLength   = 256
	maxDescriptionLength = 8192
	maxPolicyLength      = 32768
	maxPlaintextLength   = 4096
	maxCiphertextLength  = 6144
	maxDataKeyBytes      = 1024
)

var (
	keyIDPattern     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	aliasNamePattern = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`)
	// kmsARNPattern splits a KMS ARN into region, account and resource.
	kmsARNPattern = regexp.MustCompile(`^arn:aws:kms:([a-z0-9-]+):([0-9]{12}):(.+)$`)
)

// key is a KMS key. Its fields other than enabled never change; enabled is
// read and written under Emulator.mu.
type key struct {
	id          string
	arn         string
	description string
	created     time.Time
	secret      [32]byte // never leaves the emulator
	enabled     bool
}

func (e *Emulator) keyARN(id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", e.region, e.accountID, id)
}

func (e *Emulator) aliasARN(name string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:%s", e.region, e.accountID, name)
}

// resolveLocked returns the key that id names, as KMS resolves a KeyId: a
// key id or key ARN, and when aliases is true also an alias name
// (alias/<name>) or alias ARN. member names the request member in messages.
// A message quotes id only once it is known to be well formed.
func (e *Emulator) resolveLocked(member string, id *string, aliases bool) (*key, *awsjson.Error) {
	switch {
	case id == nil:
		return nil, errRequired(member)
	case *id == "":
		return nil, errConstraint(member, "Member must have length greater than or equal to 1")
	case len(*id) > maxKeyIDLength:
		return nil, errConstraint(member, fmt.Sprintf("Member must have length less than or equal to %d", maxKeyIDLength))
	}
	s := *id
	if m := kmsARNPattern.FindStringSubmatch(s); m != nil {
		region, account, resource := m[1], m[2], m[3]
		if kid, ok := strings.CutPrefix(resource, "key/"); ok && keyIDPattern.MatchString(kid) {
			// Another region's or account's key is not found: the emulator
			// is one account in one region.
			if k := e.keys[kid]; k != nil && region == e.region && account == e.accountID {
				return k, nil
			}
			return nil, awsjson.Errorf(errNotFound, "Key '%s' does not exist", s)
		}
		if aliases && aliasNamePattern.MatchString(resource) {
			if kid, ok := e.aliases[resource]; ok && region == e.region && account == e.accountID {
				return e.keys[kid], nil
			}
			return nil, awsjson.Errorf(errNotFound, "Alias %s is not found.", s)
		}
		return nil, awsjson.Errorf(errNotFound, "Invalid keyId")
	}
	if strings.HasPrefix(s, "arn:") {
		return nil, awsjson.Errorf(errInvalidARN, "Invalid arn")
	}
	if keyIDPattern.MatchString(s) {
		if k := e.keys[s]; k != nil {
			return k, nil
		}
		return nil, awsjson.Errorf(errNotFound, "Key '%s' does not exist", e.keyARN(s))
	}
	if aliases && aliasNamePattern.MatchString(s) {
		if kid, ok := e.aliases[s]; ok {
			return e.keys[kid], nil
		}
		return nil, awsjson.Errorf(errNotFound, "Alias %s is not found.", e.aliasARN(s))
	}
	return nil, awsjson.Errorf(errNotFound, "Invalid keyId")
}

// usableLocked returns DisabledException if k is disabled: no
// cryptographic operation may use a disabled key.
func usableLocked(k *key) *awsjson.Error {
	if !k.enabled {
		return awsjson.Errorf(errDisabled, "%s is disabled.", k.arn)
	}
	return nil
}

// checkAlgorithm accepts an absent or SYMMETRIC_DEFAULT encryption
// algorithm, the only one of a symmetric key.
func checkAlgorithm(alg *string) *awsjson.Error {
	if alg == nil || *alg == symmetricDefault {
		return nil
	}
	switch *alg {
	case "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE":
		return awsjson.Errorf(errInvalidKeyUsage, "The encryption algorithm is not valid for this KMS key.")
	}
	return errConstraint("encryptionAlgorithm", "Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]")
}

func errDryRunSucceeded() *awsjson.Error {
	return awsjson.Errorf(errDryRun, "The request would have succeeded, but the DryRun option is set.")
}

// keyMetadata is KMS's KeyMetadata. Timestamps are epoch seconds, as AWS
// JSON encodes them.
type keyMetadata struct {
	AWSAccountID          string   `json:"AWSAccountId"`
	KeyID                 string   `json:"KeyId"`
	ARN                   string   `json:"Arn"`
	CreationDate          float64  `json:"CreationDate"`
	Enabled               bool     `json:"Enabled"`
	Description           string   `json:"Description"`
	KeyUsage              string   `json:"KeyUsage"`
	KeyState              string   `json:"KeyState"`
	Origin                string   `json:"Origin"`
	KeyManager            string   `json:"KeyManager"`
	CustomerMasterKeySpec string   `json:"CustomerMasterKeySpec"`
	KeySpec               string   `json:"KeySpec"`
	EncryptionAlgorithms  []string `json:"EncryptionAlgorithms"`
	MultiRegion           bool     `json:"MultiRegion"`
}

func (e *Emulator) metadataLocked(k *key) keyMetadata {
	state := "Enabled"
	if !k.enabled {
		state = "Disabled"
	}
	return keyMetadata{
		AWSAccountID:          e.accountID,
		KeyID:                 k.id,
		ARN:                   k.arn,
		CreationDate:          float64(k.created.UnixMilli()) / 1000,
		Enabled:               k.enabled,
		Description:           k.description,
		KeyUsage:              encryptDecrypt,
		KeyState:              state,
		Origin:                originAWSKMS,
		KeyManager:            "CUSTOMER",
		CustomerMasterKeySpec: symmetricDefault,
		KeySpec:               symmetricDefault,
		EncryptionAlgorithms:  []string{symmetricDefault},
	}
}

type keyMetadataOutput struct {
	KeyMetadata keyMetadata `json:"KeyMetadata"`
}

type createKeyInput struct {
	Policy                *string `json:"Policy"`
	Description           *string `json:"Description"`
	KeyUsage              *string `json:"KeyUsage"`
	CustomerMasterKeySpec *string `json:"CustomerMasterKeySpec"`
	KeySpec               *string `json:"KeySpec"`
	Origin                *string `json:"Origin"`
	CustomKeyStoreID      *string `json:"CustomKeyStoreId"`
	XksKeyID              *string `json:"XksKeyId"`
	MultiRegion           *bool   `json:"MultiRegion"`
	Tags                  []struct {
		TagKey   *string `json:"TagKey"`
		TagValue *string `json:"TagValue"`
	} `json:"Tags"`
}

// createKey creates a symmetric encryption key. Policies and tags are
// checked for size and otherwise ignored.
func (e *Emulator) createKey(body []byte) (any, *awsjson.Error) {
	var in createKeyInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	if in.Policy != nil && (len(*in.Policy) == 0 || len(*in.Policy) > maxPolicyLength) {
		return nil, errConstraint("policy", fmt.Sprintf("Member must have length between 1 and %d", maxPolicyLength))
	}
	if in.Description != nil && len(*in.Description) > maxDescriptionLength {
		return nil, errConstraint("description", fmt.Sprintf("Member must have length less than or equal to %d", maxDescriptionLength))
	}
	for _, t := range in.Tags {
		if t.TagKey == nil || len(*t.TagKey) == 0 || len(*t.TagKey) > 128 || t.TagValue == nil || len(*t.TagValue) > 256 {
			return nil, awsjson.Errorf(errTag, "Tags must have a key of 1 to 128 characters and a value of at most 256 characters.")
		}
	}
	if in.KeySpec != nil && in.CustomerMasterKeySpec != nil {
		return nil, errValidationf("You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec parameter is deprecated. Use KeySpec only.")
	}
	for _, f := range []struct {
		member, want string
		got          *string
	}{
		{"KeyUsage", encryptDecrypt, in.KeyUsage},
		{"KeySpec", symmetricDefault, in.KeySpec},
		{"CustomerMasterKeySpec", symmetricDefault, in.CustomerMasterKeySpec},
		{"Origin", originAWSKMS, in.Origin},
	} {
		if f.got != nil && *f.got != f.want {
			return nil, awsjson.Errorf(errUnsupported, "kmsemu supports only %s %s.", f.member, f.want)
		}
	}
	if in.CustomKeyStoreID != nil || in.XksKeyID != nil || (in.MultiRegion != nil && *in.MultiRegion) {
		return nil, awsjson.Errorf(errUnsupported, "kmsemu supports neither custom key stores nor multi-Region keys.")
	}
	description := ""
	if in.Description != nil {
		description = *in.Description
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return keyMetadataOutput{KeyMetadata: e.metadataLocked(e.addKeyLocked(description))}, nil
}

// addKeyLocked creates and stores an enabled key with a random secret.
func (e *Emulator) addKeyLocked(description string) *key {
	id := awsjson.NewUUID()
	k := &key{id: id, arn: e.keyARN(id), description: description, created: time.Now(), enabled: true}
	rand.Read(k.secret[:])
	e.keys[id] = k
	return k
}

type createAliasInput struct {
	AliasName   *string `json:"AliasName"`
	TargetKeyID *string `json:"TargetKeyId"`
}

func (e *Emulator) createAlias(body []byte) (any, *awsjson.Error) {
	var in createAliasInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	if in.AliasName == nil {
		return nil, errRequired("aliasName")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return nil, e.addAliasLocked(*in.AliasName, in.TargetKeyID)
}

// addAliasLocked points the new alias name at the key that target names (a
// key id or key ARN, not an alias, as in KMS).
func (e *Emulator) addAliasLocked(name string, target *string) *awsjson.Error {
	switch {
	case len(name) == 0 || len(name) > maxAliasNameLength:
		return errConstraint("aliasName", fmt.Sprintf("Member must have length between 1 and %d", maxAliasNameLength))
	case !aliasNamePattern.MatchString(name):
		return awsjson.Errorf(errInvalidAliasName, "Alias must start with 'alias/' followed by letters, digits, '/', '_' or '-'.")
	case strings.HasPrefix(name, "alias/aws/"):
		return awsjson.Errorf(errInvalidAliasName, "Alias names starting with 'alias/aws/' are reserved for AWS managed keys.")
	}
	k, aerr := e.resolveLocked("targetKeyId", target, false)
	if aerr != nil {
		return aerr
	}
	if _, ok := e.aliases[name]; ok {
		return awsjson.Errorf(errAlreadyExists, "An alias with the name %s already exists", e.aliasARN(name))
	}
	e.aliases[name] = k.id
	return nil
}

// keyIDInput is the input of the operations that name one key.
type keyIDInput struct {
	KeyID *string `json:"KeyId"`
}

func (e *Emulator) describeKey(body []byte) (any, *awsjson.Error) {
	var in keyIDInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k, aerr := e.resolveLocked("keyId", in.KeyID, true)
	if aerr != nil {
		return nil, aerr
	}
	return keyMetadataOutput{KeyMetadata: e.metadataLocked(k)}, nil
}

func (e *Emulator) disableKey(body []byte) (any, *awsjson.Error) { return e.setEnabled(body, false) }

func (e *Emulator) enableKey(body []byte) (any, *awsjson.Error) { return e.setEnabled(body, true) }

// setEnabled enables or disables the key that body names by key id or key
// ARN (not by alias, as in KMS). Either is idempotent.
func (e *Emulator) setEnabled(body []byte, enabled bool) (any, *awsjson.Error) {
	var in keyIDInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	k, aerr := e.resolveLocked("keyId", in.KeyID, false)
	if aerr != nil {
		return nil, aerr
	}
	k.enabled = enabled
	return nil, nil
}

type encryptInput struct {
	KeyID               *string           `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	DryRun              *bool             `json:"DryRun"`
}

type encryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (e *Emulator) encrypt(body []byte) (any, *awsjson.Error) {
	var in encryptInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	switch {
	case in.Plaintext == nil:
		return nil, errRequired("plaintext")
	case len(in.Plaintext) == 0 || len(in.Plaintext) > maxPlaintextLength:
		return nil, errConstraint("plaintext", fmt.Sprintf("Member must have length between 1 and %d", maxPlaintextLength))
	}
	if aerr := checkAlgorithm(in.EncryptionAlgorithm); aerr != nil {
		return nil, aerr
	}
	k, aerr := e.usableKey(in.KeyID)
	if aerr != nil {
		return nil, aerr
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, errDryRunSucceeded()
	}
	return encryptOutput{CiphertextBlob: k.seal(in.Plaintext, in.EncryptionContext), KeyID: k.arn, EncryptionAlgorithm: symmetricDefault}, nil
}

// usableKey resolves id (aliases allowed) to an enabled key.
func (e *Emulator) usableKey(id *string) (*key, *awsjson.Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k, aerr := e.resolveLocked("keyId", id, true)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := usableLocked(k); aerr != nil {
		return nil, aerr
	}
	return k, nil
}

type generateDataKeyInput struct {
	KeyID             *string           `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	NumberOfBytes     *int              `json:"NumberOfBytes"`
	KeySpec           *string           `json:"KeySpec"`
	Recipient         json.RawMessage   `json:"Recipient"`
	DryRun            *bool             `json:"DryRun"`
}

type generateDataKeyOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	Plaintext      []byte `json:"Plaintext"`
	KeyID          string `json:"KeyId"`
}

func (e *Emulator) generateDataKey(body []byte) (any, *awsjson.Error) {
	var in generateDataKeyInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	var n int
	switch {
	case (in.KeySpec == nil) == (in.NumberOfBytes == nil):
		return nil, errValidationf("Please specify either number of bytes or key spec.")
	case in.NumberOfBytes != nil:
		n = *in.NumberOfBytes
		if n < 1 || n > maxDataKeyBytes {
			return nil, errConstraint("numberOfBytes", fmt.Sprintf("Member must have value between 1 and %d", maxDataKeyBytes))
		}
	case *in.KeySpec == "AES_256":
		n = 32
	case *in.KeySpec == "AES_128":
		n = 16
	default:
		return nil, errConstraint("keySpec", "Member must satisfy enum value set: [AES_256, AES_128]")
	}
	if isSet(in.Recipient) {
		return nil, awsjson.Errorf(errUnsupported, "kmsemu does not support Recipient.")
	}
	k, aerr := e.usableKey(in.KeyID)
	if aerr != nil {
		return nil, aerr
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, errDryRunSucceeded()
	}
	plaintext := make([]byte, n)
	rand.Read(plaintext)
	return generateDataKeyOutput{CiphertextBlob: k.seal(plaintext, in.EncryptionContext), Plaintext: plaintext, KeyID: k.arn}, nil
}

type decryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	KeyID               *string           `json:"KeyId"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	Recipient           json.RawMessage   `json:"Recipient"`
	DryRun              *bool             `json:"DryRun"`
}

type decryptOutput struct {
	KeyID               string `json:"KeyId"`
	Plaintext           []byte `json:"Plaintext"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

// errBadCiphertext is answered for every blob that does not decrypt, whether
// it was altered, is not one of ours, or was made with another encryption
// context, as KMS does not say which.
func errBadCiphertext() *awsjson.Error {
	return awsjson.Errorf(errInvalidCiphertext, "The ciphertext is invalid, or its encryption context does not match.")
}

func (e *Emulator) decrypt(body []byte) (any, *awsjson.Error) {
	var in decryptInput
	if aerr := awsjson.Decode(body, &in); aerr != nil {
		return nil, aerr
	}
	switch {
	case in.CiphertextBlob == nil:
		return nil, errRequired("ciphertextBlob")
	case len(in.CiphertextBlob) == 0 || len(in.CiphertextBlob) > maxCiphertextLength:
		return nil, errConstraint("ciphertextBlob", fmt.Sprintf("Member must have length between 1 and %d", maxCiphertextLength))
	}
	if aerr := checkAlgorithm(in.EncryptionAlgorithm); aerr != nil {
		return nil, aerr
	}
	if isSet(in.Recipient) {
		return nil, awsjson.Errorf(errUnsupported, "kmsemu does not support Recipient.")
	}
	k, aerr := e.decryptionKey(in.CiphertextBlob, in.KeyID)
	if aerr != nil {
		return nil, aerr
	}
	plaintext, ok := k.open(in.CiphertextBlob, in.EncryptionContext)
	if !ok {
		return nil, errBadCiphertext()
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, errDryRunSucceeded()
	}
	return decryptOutput{KeyID: k.arn, Plaintext: plaintext, EncryptionAlgorithm: symmetricDefault}, nil
}

// decryptionKey returns the enabled key that blob names, which must be the
// key that keyID names when it is given.
func (e *Emulator) decryptionKey(blob []byte, keyID *string) (*key, *awsjson.Error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if keyID != nil {
		want, aerr := e.resolveLocked("keyId", keyID, true)
		if aerr != nil {
			return nil, aerr
		}
		if id, ok := blobKeyID(blob); ok && id != want.id {
			return nil, awsjson.Errorf(errIncorrectKey, "The key ID in the request does not identify a KMS key that can perform this operation.")
		}
	}
	id, ok := blobKeyID(blob)
	k := e.keys[id]
	if !ok || k == nil {
		return nil, errBadCiphertext()
	}
	if aerr := usableLocked(k); aerr != nil {
		return nil, aerr
	}
	return k, nil
}

// isSet reports whether a raw JSON member is present and not null.
func isSet(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}
