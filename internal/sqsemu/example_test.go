package sqsemu_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/ivs-ingest/ivs-ingest/internal/sqsemu"
)

func Example() {
	emu, err := sqsemu.New(sqsemu.Config{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example-secret"})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	client := sqs.NewFromConfig(aws.Config{
		Region:      sqsemu.DefaultRegion,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", ""),
	}, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	q, err := emu.CreateQueue("ivs-events", sqsemu.QueueOptions{}) // seeded without a request
	if err != nil {
		panic(err)
	}
	emu.SendMessage("ivs-events", `{"source":"aws.ivs"}`)
	ctx := context.Background()
	in := &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.URL), WaitTimeSeconds: 20, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}}
	out, _ := client.ReceiveMessage(ctx, in)
	fmt.Println(q.URL, *out.Messages[0].Body, out.Messages[0].Attributes["ApproximateReceiveCount"])
	emu.Advance(sqsemu.DefaultVisibilityTimeout) // not deleted: it comes back
	out, _ = client.ReceiveMessage(ctx, in)
	fmt.Println(out.Messages[0].Attributes["ApproximateReceiveCount"])
	// Output:
	// https://sqs.us-east-1.amazonaws.com/123456789012/ivs-events {"source":"aws.ivs"} 1
	// 2
}
