package kmsemu

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ivs-ingest/ivs-ingest/internal/awsemu/awsemutest"
)

// ctx is the context of the issue 13 data key: what the service will bind
// its wrapped data key to.
var ctx13 = map[string]string{"service": "ivs-ingest", "purpose": "stream-key-data-key"}

func TestGenerateDataKeyDecryptRoundTrip(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil)
	client := newClient(url)
	ctx := context.Background()
	key := createKey(t, client)

	tests := []struct {
		name    string
		in      kms.GenerateDataKeyInput
		wantLen int
	}{
		{"AES_256", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes256}, 32},
		{"AES_128", kms.GenerateDataKeyInput{KeySpec: types.DataKeySpecAes128}, 16},
		{"NumberOfBytes", kms.GenerateDataKeyInput{NumberOfBytes: aws.Int32(64)}, 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			in.KeyId, in.EncryptionContext = key.KeyId, ctx13
			gen, err := client.GenerateDataKey(ctx, &in)
			if err != nil {
				t.Fatalf("GenerateDataKey(%s) = %v", tt.name, err)
			}
			if len(gen.Plaintext) != tt.wantLen || aws.ToString(gen.KeyId) != aws.ToString(key.Arn) {
				t.Fatalf("GenerateDataKey(%s) = %d bytes under %q, want %d bytes under %q",
					tt.name, len(gen.Plaintext), aws.ToString(gen.KeyId), tt.wantLen, aws.ToString(key.Arn))
			}
			if bytes.Contains(gen.CiphertextBlob, gen.Plaintext) {
				t.Errorf("GenerateDataKey(%s): the ciphertext blob holds the plaintext", tt.name)
			}
			// Another map with the same pairs, built in another order.
			same := map[string]string{"purpose": "stream-key-data-key", "service": "ivs-ingest"}
			dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: same})
			if err != nil {
				t.Fatalf("Decrypt(GenerateDataKey(%s)) = %v", tt.name, err)
			}
			if !bytes.Equal(dec.Plaintext, gen.Plaintext) || aws.ToString(dec.KeyId) != aws.ToString(key.Arn) ||
				dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
				t.Errorf("Decrypt(GenerateDataKey(%s)) = key %q algorithm %q (plaintext equal: %v), want the data key under %q",
					tt.name, aws.ToString(dec.KeyId), dec.EncryptionAlgorithm, bytes.Equal(dec.Plaintext, gen.Plaintext), aws.ToString(key.Arn))
			}
		})
	}

	t.Run("fresh data keys", func(t *testing.T) {
		t.Parallel()
		seen := map[string]bool{}
		for range 3 {
			gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256})
			if err != nil {
				t.Fatal(err)
			}
			if seen[string(gen.Plaintext)] || seen[string(gen.CiphertextBlob)] {
				t.Fatal("GenerateDataKey returned a data key or blob twice")
			}
			seen[string(gen.Plaintext)], seen[string(gen.CiphertextBlob)] = true, true
		}
	})
}

func TestEncryptDecrypt(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil)
	client := newClient(url)
	ctx := context.Background()
	key := createKey(t, client)
	plaintext := []byte("a 32-byte master key, say, here.")
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: plaintext, EncryptionContext: ctx13})
	if err != nil {
		t.Fatalf("Encrypt = %v", err)
	}
	if aws.ToString(enc.KeyId) != aws.ToString(key.Arn) || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault ||
		bytes.Contains(enc.CiphertextBlob, plaintext) {
		t.Fatalf("Encrypt = key %q algorithm %q, want %q SYMMETRIC_DEFAULT and an opaque blob", aws.ToString(enc.KeyId), enc.EncryptionAlgorithm, aws.ToString(key.Arn))
	}
	dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ctx13, KeyId: key.Arn})
	if err != nil {
		t.Fatalf("Decrypt = %v", err)
	}
	if !bytes.Equal(dec.Plaintext, plaintext) {
		t.Errorf("Decrypt(Encrypt(%q)) = %q", plaintext, dec.Plaintext)
	}

	_, err = client.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: make([]byte, maxPlaintextLength+1)})
	awsemutest.WantError(t, "Encrypt(4097 bytes)", err, errValidation, 400)
	_, err = client.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: plaintext, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	awsemutest.WantError(t, "Encrypt(RSAES_OAEP_SHA_256)", err, errInvalidKeyUsage, 400)
}

func TestDecryptEncryptionContext(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	key := createKey(t, client)
	gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256, EncryptionContext: ctx13})
	if err != nil {
		t.Fatal(err)
	}
	none, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	// Two contexts whose naive concatenations are equal must differ.
	ab, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"ab": "c"}})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		blob     []byte
		ec       map[string]string
		wantCode string // "" for success
	}{
		{"same context", gen.CiphertextBlob, ctx13, ""},
		{"no context", gen.CiphertextBlob, nil, errInvalidCiphertext},
		{"one pair missing", gen.CiphertextBlob, map[string]string{"service": "ivs-ingest"}, errInvalidCiphertext},
		{"one pair more", gen.CiphertextBlob, map[string]string{"service": "ivs-ingest", "purpose": "stream-key-data-key", "x": "y"}, errInvalidCiphertext},
		{"another value", gen.CiphertextBlob, map[string]string{"service": "ivs-ingest", "purpose": "other"}, errInvalidCiphertext},
		{"key case differs", gen.CiphertextBlob, map[string]string{"Service": "ivs-ingest", "purpose": "stream-key-data-key"}, errInvalidCiphertext},
		{"made without, none given", none.CiphertextBlob, nil, ""},
		{"made without, empty given", none.CiphertextBlob, map[string]string{}, ""},
		{"made without, one given", none.CiphertextBlob, ctx13, errInvalidCiphertext},
		{"ab=c, a=bc given", ab.CiphertextBlob, map[string]string{"a": "bc"}, errInvalidCiphertext},
		{"ab=c given", ab.CiphertextBlob, map[string]string{"ab": "c"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tt.blob, EncryptionContext: tt.ec})
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Decrypt(%s) = %v, want success", tt.name, err)
				}
				return
			}
			awsemutest.WantError(t, "Decrypt("+tt.name+")", err, tt.wantCode, 400)
			if out != nil {
				t.Errorf("Decrypt(%s) returned a plaintext with its error", tt.name)
			}
			if strings.Contains(fmt.Sprint(err), base64.StdEncoding.EncodeToString(gen.Plaintext)) {
				t.Errorf("Decrypt(%s) error %v quotes the data key", tt.name, err)
			}
		})
	}
}

func TestKeyIDResolution(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	key := createKey(t, client)
	other := createKey(t, client)
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ivs-ingest/stream-keys"), TargetKeyId: key.KeyId}); err != nil {
		t.Fatalf("CreateAlias = %v", err)
	}
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/by-arn"), TargetKeyId: other.Arn}); err != nil {
		t.Fatalf("CreateAlias(target ARN) = %v", err)
	}
	keyID := aws.ToString(key.KeyId)
	aliasARN := "arn:aws:kms:eu-west-1:111122223333:alias/ivs-ingest/stream-keys"

	found := []struct {
		name, id, wantARN string
	}{
		{"key id", keyID, aws.ToString(key.Arn)},
		{"key ARN", aws.ToString(key.Arn), aws.ToString(key.Arn)},
		{"alias name", "alias/ivs-ingest/stream-keys", aws.ToString(key.Arn)},
		{"alias ARN", aliasARN, aws.ToString(key.Arn)},
		{"alias made with a key ARN", "alias/by-arn", aws.ToString(other.Arn)},
	}
	for _, tt := range found {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(tt.id)})
			if err != nil || aws.ToString(d.KeyMetadata.Arn) != tt.wantARN {
				t.Fatalf("DescribeKey(%s) = %v, want %s", tt.id, err, tt.wantARN)
			}
			gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(tt.id), KeySpec: types.DataKeySpecAes256, EncryptionContext: ctx13})
			if err != nil || aws.ToString(gen.KeyId) != tt.wantARN {
				t.Fatalf("GenerateDataKey(%s) = %v, want a data key under %s", tt.id, err, tt.wantARN)
			}
			enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(tt.id), Plaintext: []byte("p")})
			if err != nil || aws.ToString(enc.KeyId) != tt.wantARN {
				t.Fatalf("Encrypt(%s) = %v, want a blob under %s", tt.id, err, tt.wantARN)
			}
			dec, err := client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(tt.id), CiphertextBlob: gen.CiphertextBlob, EncryptionContext: ctx13})
			if err != nil || !bytes.Equal(dec.Plaintext, gen.Plaintext) {
				t.Fatalf("Decrypt(KeyId %s) = %v, want the data key", tt.id, err)
			}
		})
	}

	notFound := []struct {
		name, id, wantCode, wantMsg string
	}{
		{"unknown key id", "00000000-0000-4000-8000-000000000000", errNotFound,
			"Key 'arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-4000-8000-000000000000' does not exist"},
		{"unknown alias", "alias/nope", errNotFound, "Alias arn:aws:kms:eu-west-1:111122223333:alias/nope is not found."},
		{"key ARN of another region", "arn:aws:kms:us-west-2:111122223333:key/" + keyID, errNotFound, "does not exist"},
		{"key ARN of another account", "arn:aws:kms:eu-west-1:999999999999:key/" + keyID, errNotFound, "does not exist"},
		{"alias ARN of another region", strings.Replace(aliasARN, "eu-west-1", "us-west-2", 1), errNotFound, "is not found"},
		{"not an identifier", "ivs-ingest", errNotFound, "Invalid keyId"},
		{"upper-case key id", strings.ToUpper(keyID), errNotFound, "Invalid keyId"},
		{"alias without prefix", "ivs-ingest/stream-keys", errNotFound, "Invalid keyId"},
		{"IVS ARN", "arn:aws:ivs:eu-west-1:111122223333:channel/abc", errInvalidARN, "Invalid arn"},
		{"empty", "", errValidation, "length greater than or equal to 1"},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(tt.id)})
			awsemutest.WantError(t, "DescribeKey("+tt.id+")", err, tt.wantCode, 400)
			if !strings.Contains(fmt.Sprint(err), tt.wantMsg) {
				t.Errorf("DescribeKey(%s) = %v, want a message with %q", tt.id, err, tt.wantMsg)
			}
			_, err = client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(tt.id), KeySpec: types.DataKeySpecAes256})
			awsemutest.WantError(t, "GenerateDataKey("+tt.id+")", err, tt.wantCode, 400)
		})
	}

	// DisableKey, EnableKey and CreateAlias's target take no alias, as in KMS.
	_, err := client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String("alias/ivs-ingest/stream-keys")})
	awsemutest.WantError(t, "DisableKey(alias)", err, errNotFound, 400)
	_, err = client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/second"), TargetKeyId: aws.String("alias/by-arn")})
	awsemutest.WantError(t, "CreateAlias(target alias)", err, errNotFound, 400)
	if d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId}); err != nil || !d.KeyMetadata.Enabled {
		t.Errorf("after DisableKey(alias): DescribeKey = %v, enabled %v; want the key untouched", err, d != nil && d.KeyMetadata.Enabled)
	}
}

func TestCreateAliasRefusals(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	key := createKey(t, client)
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/taken"), TargetKeyId: key.KeyId}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, alias string
		target      *string
		wantCode    string
	}{
		{"taken", "alias/taken", key.KeyId, errAlreadyExists},
		{"no prefix", "taken2", key.KeyId, errInvalidAliasName},
		{"bad character", "alias/a b", key.KeyId, errInvalidAliasName},
		{"reserved for AWS", "alias/aws/ivs", key.KeyId, errInvalidAliasName},
		{"too long", "alias/" + strings.Repeat("a", 251), key.KeyId, errValidation},
		{"unknown target", "alias/free", aws.String("00000000-0000-4000-8000-000000000000"), errNotFound},
	}
	for _, tt := range tests {
		_, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(tt.alias), TargetKeyId: tt.target})
		awsemutest.WantError(t, "CreateAlias("+tt.name+")", err, tt.wantCode, 400)
	}
	// A refused alias was not created.
	_, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/free")})
	awsemutest.WantError(t, "DescribeKey(alias/free)", err, errNotFound, 400)
}

func TestCreateKeyAndDescribeKey(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	out, err := client.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("ivs-ingest stream keys"),
		KeySpec:     types.KeySpecSymmetricDefault,
		KeyUsage:    types.KeyUsageTypeEncryptDecrypt,
		Tags:        []types.Tag{{TagKey: aws.String("app"), TagValue: aws.String("ivs-ingest")}},
	})
	if err != nil {
		t.Fatalf("CreateKey = %v", err)
	}
	for name, md := range map[string]*types.KeyMetadata{"CreateKey": out.KeyMetadata} {
		d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: md.KeyId})
		if err != nil {
			t.Fatalf("DescribeKey = %v", err)
		}
		for _, m := range []*types.KeyMetadata{md, d.KeyMetadata} {
			switch {
			case !keyIDRe.MatchString(aws.ToString(m.KeyId)),
				aws.ToString(m.Arn) != "arn:aws:kms:eu-west-1:111122223333:key/"+aws.ToString(m.KeyId),
				!keyARNRe.MatchString(aws.ToString(m.Arn)),
				aws.ToString(m.AWSAccountId) != testAccountID,
				aws.ToString(m.Description) != "ivs-ingest stream keys",
				!m.Enabled, m.KeyState != types.KeyStateEnabled,
				m.KeySpec != types.KeySpecSymmetricDefault, m.KeyUsage != types.KeyUsageTypeEncryptDecrypt,
				m.Origin != types.OriginTypeAwsKms, m.KeyManager != types.KeyManagerTypeCustomer,
				len(m.EncryptionAlgorithms) != 1 || m.EncryptionAlgorithms[0] != types.EncryptionAlgorithmSpecSymmetricDefault,
				m.CreationDate == nil || m.CreationDate.Before(before) || m.CreationDate.After(time.Now().Add(time.Second)):
				t.Errorf("%s metadata = %+v, want an enabled SYMMETRIC_DEFAULT key of %s created now", name, *m, testAccountID)
			}
		}
	}

	refused := []struct {
		name     string
		in       kms.CreateKeyInput
		wantCode string
	}{
		{"RSA key", kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048}, errUnsupported},
		{"signing key", kms.CreateKeyInput{KeyUsage: types.KeyUsageTypeSignVerify}, errUnsupported},
		{"external origin", kms.CreateKeyInput{Origin: types.OriginTypeExternal}, errUnsupported},
		{"multi-Region", kms.CreateKeyInput{MultiRegion: aws.Bool(true)}, errUnsupported},
		{"both specs", kms.CreateKeyInput{KeySpec: types.KeySpecSymmetricDefault, CustomerMasterKeySpec: types.CustomerMasterKeySpecSymmetricDefault}, errValidation},
		{"description too long", kms.CreateKeyInput{Description: aws.String(strings.Repeat("d", maxDescriptionLength+1))}, errValidation},
	}
	for _, tt := range refused {
		_, err := client.CreateKey(ctx, &tt.in)
		awsemutest.WantError(t, "CreateKey("+tt.name+")", err, tt.wantCode, 400)
	}
}

func TestGenerateDataKeyValidation(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	key := createKey(t, client)
	tests := []struct {
		name string
		in   kms.GenerateDataKeyInput
	}{
		{"neither spec nor size", kms.GenerateDataKeyInput{KeyId: key.KeyId}},
		{"both spec and size", kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)}},
		{"zero bytes", kms.GenerateDataKeyInput{KeyId: key.KeyId, NumberOfBytes: aws.Int32(0)}},
		{"1025 bytes", kms.GenerateDataKeyInput{KeyId: key.KeyId, NumberOfBytes: aws.Int32(1025)}},
		{"unknown spec", kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: "AES_512"}},
	}
	for _, tt := range tests {
		_, err := client.GenerateDataKey(ctx, &tt.in)
		awsemutest.WantError(t, "GenerateDataKey("+tt.name+")", err, errValidation, 400)
	}
	_, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256, DryRun: aws.Bool(true)})
	awsemutest.WantError(t, "GenerateDataKey(DryRun)", err, errDryRun, 400)
}

func TestDisabledKey(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	key := createKey(t, client)
	gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256, EncryptionContext: ctx13})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: key.Arn}); err != nil {
		t.Fatalf("DisableKey = %v", err)
	}
	d, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: key.KeyId})
	if err != nil || d.KeyMetadata.Enabled || d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("DescribeKey(disabled) = %v, want Enabled false, KeyState Disabled", err)
	}
	_, err = client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256})
	awsemutest.WantError(t, "GenerateDataKey(disabled)", err, errDisabled, 400)
	_, err = client.Encrypt(ctx, &kms.EncryptInput{KeyId: key.KeyId, Plaintext: []byte("p")})
	awsemutest.WantError(t, "Encrypt(disabled)", err, errDisabled, 400)
	_, err = client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: ctx13})
	awsemutest.WantError(t, "Decrypt(disabled)", err, errDisabled, 400)
	var disabled *types.DisabledException
	if !errors.As(err, &disabled) {
		t.Errorf("Decrypt(disabled) = %T, want *types.DisabledException", err)
	}

	if _, err := client.EnableKey(ctx, &kms.EnableKeyInput{KeyId: key.KeyId}); err != nil {
		t.Fatalf("EnableKey = %v", err)
	}
	dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: ctx13})
	if err != nil || !bytes.Equal(dec.Plaintext, gen.Plaintext) {
		t.Fatalf("Decrypt after EnableKey = %v, want the data key", err)
	}
}

func TestTamperedCiphertext(t *testing.T) {
	t.Parallel()
	_, url := startEmulator(t, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	key := createKey(t, client)
	other := createKey(t, client)
	gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256, EncryptionContext: ctx13})
	if err != nil {
		t.Fatal(err)
	}
	blob := gen.CiphertextBlob
	decrypt := func(b []byte) error {
		_, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: b, EncryptionContext: ctx13})
		return err
	}

	// Every single-bit change anywhere in the blob: version, key id, nonce,
	// sealed data key and tag.
	for i := range blob {
		b := bytes.Clone(blob)
		b[i] ^= 0x01
		if err := decrypt(b); awsemutest.ErrorCode(err) != errInvalidCiphertext {
			t.Fatalf("Decrypt(blob with byte %d of %d flipped) = %v, want %s", i, len(blob), err, errInvalidCiphertext)
		}
	}
	// The blob relabelled as the other key's.
	relabelled := bytes.Clone(blob)
	copy(relabelled[1:1+keyIDLen], aws.ToString(other.KeyId))
	cases := map[string][]byte{
		"relabelled to another key": relabelled,
		"truncated":                 blob[:len(blob)-1],
		"header only":               blob[:1+keyIDLen],
		"extended":                  append(bytes.Clone(blob), 0),
		"not ours":                  []byte("not a KMS ciphertext blob at all, though long enough to parse..."),
	}
	for name, b := range cases {
		if err := decrypt(b); awsemutest.ErrorCode(err) != errInvalidCiphertext {
			t.Errorf("Decrypt(%s) = %v, want %s", name, err, errInvalidCiphertext)
		}
	}
	if err := decrypt(blob); err != nil {
		t.Fatalf("Decrypt(the untouched blob) = %v", err)
	}
}

func TestDecryptKeyIDMustMatch(t *testing.T) {
	t.Parallel()
	emu, url := startEmulator(t, nil)
	client := newClient(url, noRetries)
	ctx := context.Background()
	key := createKey(t, client)
	other := createKey(t, client)
	if err := emu.CreateAlias("alias/other", aws.ToString(other.KeyId)); err != nil {
		t.Fatal(err)
	}
	gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key.KeyId, KeySpec: types.DataKeySpecAes256})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{aws.ToString(other.KeyId), aws.ToString(other.Arn), "alias/other"} {
		_, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, KeyId: aws.String(id)})
		awsemutest.WantError(t, "Decrypt(KeyId "+id+")", err, errIncorrectKey, 400)
	}
	_, err = client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, KeyId: aws.String("alias/missing")})
	awsemutest.WantError(t, "Decrypt(KeyId alias/missing)", err, errNotFound, 400)
}
