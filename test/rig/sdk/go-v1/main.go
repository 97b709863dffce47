// The AWS SDK for Go (v1) reading instance metadata as an application does; prints it.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/ec2metadata"
	"github.com/aws/aws-sdk-go/aws/session"
)

func main() {
	sess := session.Must(session.NewSession(&aws.Config{MaxRetries: aws.Int(0)}))
	client := ec2metadata.New(sess, &aws.Config{HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	id, err := client.GetMetadata("instance-id")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(id)
}
