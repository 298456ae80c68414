package kmsemu_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/ivs-ingest/ivs-ingest/internal/kmsemu"
)

func Example() {
	emu, err := kmsemu.New(kmsemu.Config{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example-secret"})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()

	client := kms.NewFromConfig(aws.Config{
		Region:      kmsemu.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", ""),
	}, func(o *kms.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	key := emu.CreateKey("stream keys") // seeded without a request
	if err := emu.CreateAlias("alias/ivs-ingest", key.ID); err != nil {
		panic(err)
	}
	ec := map[string]string{"service": "ivs-ingest"}
	ctx := context.Background()
	gen, err := client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: aws.String("alias/ivs-ingest"), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec,
	})
	if err != nil {
		panic(err)
	}
	dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		panic(err)
	}
	_, err = client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gen.CiphertextBlob}) // no context
	fmt.Println(bytes.Equal(dec.Plaintext, gen.Plaintext), *dec.KeyId == key.ARN, err != nil)
	fmt.Println(emu.Calls("GenerateDataKey"), emu.Calls("Decrypt"), emu.Succeeded("Decrypt"))
	// Output:
	// true true true
	// 1 2 1
}
