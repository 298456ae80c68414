package smemu_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ivs-ingest/ivs-ingest/internal/smemu"
)

func Example() {
	emu, err := smemu.New(smemu.Config{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example-secret"})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()

	client := secretsmanager.NewFromConfig(aws.Config{
		Region:      smemu.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", ""),
	}, func(o *secretsmanager.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	sec, err := emu.CreateSecret("ivs-ingest", `{"database_url":"postgres://..."}`) // seeded without a request
	if err != nil {
		panic(err)
	}
	out, err := client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String(sec.ARN)})
	if err != nil {
		panic(err)
	}
	fmt.Println(*out.SecretString)
	emu.Fail("GetSecretValue", "AccessDeniedException")
	_, err = client.GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("ivs-ingest")})
	fmt.Println(err != nil, emu.Calls("GetSecretValue"), emu.Succeeded("GetSecretValue"))
	// Output:
	// {"database_url":"postgres://..."}
	// true 2 1
}
