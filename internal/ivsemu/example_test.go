package ivsemu_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivs"

	"github.com/ivs-ingest/ivs-ingest/internal/ivsemu"
)

func Example() {
	emu, err := ivsemu.New(ivsemu.Config{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example-secret"})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()

	client := ivs.NewFromConfig(aws.Config{
		Region:      ivsemu.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", ""),
	}, func(o *ivs.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	ch, err := emu.CreateChannel("show-42") // seeded without a request
	if err != nil {
		panic(err)
	}
	_, err = client.CreateStreamKey(context.Background(), &ivs.CreateStreamKeyInput{ChannelArn: aws.String(ch.ARN)})
	fmt.Println(err != nil, emu.Calls("CreateStreamKey"), emu.Succeeded("CreateStreamKey"))
	// Output: true 1 0
}
