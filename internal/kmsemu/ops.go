package kmsemu

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Wire constants of the AWS JSON 1.1 protocol as KMS speaks it.
const (
	contentType  = "application/x-amz-json-1.1"
	targetPrefix = "TrentService."
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

// opFunc runs one operation on a verified request body. It returns the value
// to encode, or nil for an empty body.
type opFunc func(e *Emulator, body []byte) (any, *apiError)

// operation returns the operation r addresses, or a nil opFunc if r is not
// an AWS JSON 1.1 request for a TrentService operation the emulator serves.
func operation(r *http.Request) (string, opFunc) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return "", nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != contentType {
		return "", nil
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok {
		return "", nil
	}
	return op, lookupOp(op)
}

func lookupOp(op string) opFunc {
	switch op {
	case "CreateKey":
		return (*Emulator).createKey
	case "CreateAlias":
		return (*Emulator).createAlias
	case "DescribeKey":
		return (*Emulator).describeKey
	case "DisableKey":
		return (*Emulator).disableKey
	case "EnableKey":
		return (*Emulator).enableKey
	case "Encrypt":
		return (*Emulator).encrypt
	case "Decrypt":
		return (*Emulator).decrypt
	case "GenerateDataKey":
		return (*Emulator).generateDataKey
	}
	return nil
}

// decode unmarshals body into v. An empty body is an empty input, as the
// SDK sends "{}" but hand-written clients may not. Blobs arrive as standard
// base64, which encoding/json decodes into []byte.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		// The decoder's message may quote request content (a plaintext):
		// don't echo it.
		return newError(errSerialization, "the request body is not a valid JSON document for this operation")
	}
	return nil
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
func (e *Emulator) resolveLocked(member string, id *string, aliases bool) (*key, *apiError) {
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
			return nil, newError(errNotFound, "Key '%s' does not exist", s)
		}
		if aliases && aliasNamePattern.MatchString(resource) {
			if kid, ok := e.aliases[resource]; ok && region == e.region && account == e.accountID {
				return e.keys[kid], nil
			}
			return nil, newError(errNotFound, "Alias %s is not found.", s)
		}
		return nil, newError(errNotFound, "Invalid keyId")
	}
	if strings.HasPrefix(s, "arn:") {
		return nil, newError(errInvalidARN, "Invalid arn")
	}
	if keyIDPattern.MatchString(s) {
		if k := e.keys[s]; k != nil {
			return k, nil
		}
		return nil, newError(errNotFound, "Key '%s' does not exist", e.keyARN(s))
	}
	if aliases && aliasNamePattern.MatchString(s) {
		if kid, ok := e.aliases[s]; ok {
			return e.keys[kid], nil
		}
		return nil, newError(errNotFound, "Alias %s is not found.", e.aliasARN(s))
	}
	return nil, newError(errNotFound, "Invalid keyId")
}

// usableLocked returns DisabledException if k is disabled: no
// cryptographic operation may use a disabled key.
func usableLocked(k *key) *apiError {
	if !k.enabled {
		return newError(errDisabled, "%s is disabled.", k.arn)
	}
	return nil
}

// checkAlgorithm accepts an absent or SYMMETRIC_DEFAULT encryption
// algorithm, the only one of a symmetric key.
func checkAlgorithm(alg *string) *apiError {
	if alg == nil || *alg == symmetricDefault {
		return nil
	}
	switch *alg {
	case "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE":
		return newError(errInvalidKeyUsage, "The encryption algorithm is not valid for this KMS key.")
	}
	return errConstraint("encryptionAlgorithm", "Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]")
}

func errDryRunSucceeded() *apiError {
	return newError(errDryRun, "The request would have succeeded, but the DryRun option is set.")
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
func (e *Emulator) createKey(body []byte) (any, *apiError) {
	var in createKeyInput
	if aerr := decode(body, &in); aerr != nil {
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
			return nil, newError(errTag, "Tags must have a key of 1 to 128 characters and a value of at most 256 characters.")
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
			return nil, newError(errUnsupported, "kmsemu supports only %s %s.", f.member, f.want)
		}
	}
	if in.CustomKeyStoreID != nil || in.XksKeyID != nil || (in.MultiRegion != nil && *in.MultiRegion) {
		return nil, newError(errUnsupported, "kmsemu supports neither custom key stores nor multi-Region keys.")
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
	id := newUUID()
	k := &key{id: id, arn: e.keyARN(id), description: description, created: e.now(), enabled: true}
	rand.Read(k.secret[:])
	e.keys[id] = k
	return k
}

type createAliasInput struct {
	AliasName   *string `json:"AliasName"`
	TargetKeyID *string `json:"TargetKeyId"`
}

func (e *Emulator) createAlias(body []byte) (any, *apiError) {
	var in createAliasInput
	if aerr := decode(body, &in); aerr != nil {
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
func (e *Emulator) addAliasLocked(name string, target *string) *apiError {
	switch {
	case len(name) == 0 || len(name) > maxAliasNameLength:
		return errConstraint("aliasName", fmt.Sprintf("Member must have length between 1 and %d", maxAliasNameLength))
	case !aliasNamePattern.MatchString(name):
		return newError(errInvalidAliasName, "Alias must start with 'alias/' followed by letters, digits, '/', '_' or '-'.")
	case strings.HasPrefix(name, "alias/aws/"):
		return newError(errInvalidAliasName, "Alias names starting with 'alias/aws/' are reserved for AWS managed keys.")
	}
	k, aerr := e.resolveLocked("targetKeyId", target, false)
	if aerr != nil {
		return aerr
	}
	if _, ok := e.aliases[name]; ok {
		return newError(errAlreadyExists, "An alias with the name %s already exists", e.aliasARN(name))
	}
	e.aliases[name] = k.id
	return nil
}

// keyIDInput is the input of the operations that name one key.
type keyIDInput struct {
	KeyID *string `json:"KeyId"`
}

func (e *Emulator) describeKey(body []byte) (any, *apiError) {
	var in keyIDInput
	if aerr := decode(body, &in); aerr != nil {
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

func (e *Emulator) disableKey(body []byte) (any, *apiError) { return e.setEnabled(body, false) }

func (e *Emulator) enableKey(body []byte) (any, *apiError) { return e.setEnabled(body, true) }

// setEnabled enables or disables the key that body names by key id or key
// ARN (not by alias, as in KMS). Either is idempotent.
func (e *Emulator) setEnabled(body []byte, enabled bool) (any, *apiError) {
	var in keyIDInput
	if aerr := decode(body, &in); aerr != nil {
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

func (e *Emulator) encrypt(body []byte) (any, *apiError) {
	var in encryptInput
	if aerr := decode(body, &in); aerr != nil {
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
func (e *Emulator) usableKey(id *string) (*key, *apiError) {
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

func (e *Emulator) generateDataKey(body []byte) (any, *apiError) {
	var in generateDataKeyInput
	if aerr := decode(body, &in); aerr != nil {
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
		return nil, newError(errUnsupported, "kmsemu does not support Recipient.")
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
func errBadCiphertext() *apiError {
	return newError(errInvalidCiphertext, "The ciphertext is invalid, or its encryption context does not match.")
}

func (e *Emulator) decrypt(body []byte) (any, *apiError) {
	var in decryptInput
	if aerr := decode(body, &in); aerr != nil {
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
		return nil, newError(errUnsupported, "kmsemu does not support Recipient.")
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
func (e *Emulator) decryptionKey(blob []byte, keyID *string) (*key, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if keyID != nil {
		want, aerr := e.resolveLocked("keyId", keyID, true)
		if aerr != nil {
			return nil, aerr
		}
		if id, ok := blobKeyID(blob); ok && id != want.id {
			return nil, newError(errIncorrectKey, "The key ID in the request does not identify a KMS key that can perform this operation.")
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

// newUUID returns a random (version 4) UUID in lowercase, the form of KMS key
// ids and request ids.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
