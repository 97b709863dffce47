// The AWS SDK for Go v2 reading instance metadata as an application does; prints it.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

func main() {
	client := imds.New(imds.Options{})
	out, err := client.GetMetadata(context.Background(), &imds.GetMetadataInput{Path: "instance-id"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	body, _ := io.ReadAll(out.Content)
	fmt.Println(string(body))
}
