// User-Agent -> SDK, for every agent in docs/imds.md, with the minimum
// IMDSv2 versions compared numerically at and around each boundary.
import { describe, expect, it } from 'vitest';
import { compareVersions, sdkFromUserAgent } from '../../src/logic/sdk.js';

describe('sdkFromUserAgent', () => {
  it.each([
    // [User-Agent, name, version, min_imdsv2_version, supports_imdsv2]
    ['Botocore/1.13.24 Python/3.7.3 Linux/4.14.186', 'botocore', '1.13.24', '1.13.25', false],
    ['Botocore/1.13.25 Python/3.7.3 Linux/4.14.186', 'botocore', '1.13.25', '1.13.25', true],
    ['Botocore/1.29.72 Python/3.11.2 Linux/6.1.0-18-cloud-amd64', 'botocore', '1.29.72', '1.13.25', true],
    // boto3 names botocore too, and botocore is what talks to IMDS.
    ['Boto3/1.12.5 Python/3.8.0 Linux/5.10 Botocore/1.15.5', 'botocore', '1.15.5', '1.13.25', true],
    ['Boto3/1.9.0 Python/2.7.18 Linux/4.14 Botocore/1.12.0', 'botocore', '1.12.0', '1.13.25', false],
    // AWS CLI v1 is decided by its botocore; v2 always supports IMDSv2.
    ['aws-cli/1.16.0 Python/2.7.18 Linux/4.14 botocore/1.12.0', 'aws-cli', '1.16.0', '1.16.289', false],
    ['aws-cli/1.18.147 Python/2.7.18 Linux/4.14 botocore/1.18.6', 'aws-cli', '1.18.147', '1.16.289', true],
    ['aws-cli/1.16.290 Python/3.7 Linux/4.14', 'aws-cli', '1.16.290', '1.16.289', true],
    ['aws-cli/2.13.0 Python/3.11.4 Linux/6.1.0 exe/x86_64.amzn.2023 prompt/off', 'aws-cli-v2', '2.13.0', null, true],
    [
      'aws-sdk-java/1.11.677 Linux/4.14 OpenJDK_64-Bit_Server_VM/25.252-b09 java/1.8.0_252',
      'aws-sdk-java',
      '1.11.677',
      '1.11.678',
      false,
    ],
    [
      'aws-sdk-java/1.12.500 Linux/6.1 OpenJDK_64-Bit_Server_VM/17.0.8+7 java/17.0.8',
      'aws-sdk-java',
      '1.12.500',
      '1.11.678',
      true,
    ],
    ['aws-sdk-java/2.10.20 Linux/4.14 OpenJDK_64-Bit_Server_VM/11.0.6', 'aws-sdk-java-v2', '2.10.20', '2.10.21', false],
    ['aws-sdk-java/2.20.162 Linux/6.1 OpenJDK_64-Bit_Server_VM/17.0.8', 'aws-sdk-java-v2', '2.20.162', '2.10.21', true],
    ['aws-sdk-go/1.25.37 (go1.13.4; linux; amd64)', 'aws-sdk-go', '1.25.37', '1.25.38', false],
    ['aws-sdk-go/1.44.300 (go1.20.5; linux; arm64)', 'aws-sdk-go', '1.44.300', '1.25.38', true],
    ['aws-sdk-go-v2/0.18.0 (go1.13; linux; amd64)', 'aws-sdk-go-v2', '0.18.0', '0.19.0', false],
    ['aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21.0 md/GOOS#linux', 'aws-sdk-go-v2', '1.21.0', '0.19.0', true],
    ['aws-sdk-nodejs/2.721.0 linux/v12.22.12', 'aws-sdk-js', '2.721.0', '2.722.0', false],
    ['aws-sdk-nodejs/2.1450.0 linux/v18.17.1', 'aws-sdk-js', '2.1450.0', '2.722.0', true],
    [
      'aws-sdk-php/3.147.6 OS/Linux/4.14 GuzzleHttp/7 curl/7.61.1 PHP/7.4.3',
      'aws-sdk-php',
      '3.147.6',
      '3.147.7',
      false,
    ],
    ['aws-sdk-ruby3/3.78.0 ruby/2.6.3 x86_64-linux aws-sdk-core/3.78.0', 'aws-sdk-ruby', '3.78.0', '3.79.0', false],
    ['aws-sdk-ruby3/3.130.0 ruby/3.2.2 x86_64-linux', 'aws-sdk-ruby', '3.130.0', '3.79.0', true],
    ['aws-sdk-cpp/1.7.228 Linux/4.14 x86_64 GCC/7.3.1', 'aws-sdk-cpp', '1.7.228', '1.7.229', false],
    ['aws-sdk-cpp/1.11.100 Linux/6.1 x86_64 GCC/11.4.1', 'aws-sdk-cpp', '1.11.100', '1.7.229', true],
    [
      'aws-sdk-dotnet-coreclr/3.3.634.0 aws-sdk-dotnet-core/3.3.100 .NET_Core/4.6 OS/Linux',
      'aws-sdk-dotnet',
      '3.3.634.0',
      '3.3.634.1',
      false,
    ],
    [
      'aws-sdk-dotnet-45/3.7.100.1 aws-sdk-dotnet-core/3.7.100.1 .NET_Runtime/4.0',
      'aws-sdk-dotnet',
      '3.7.100.1',
      '3.3.634.1',
      true,
    ],
    // PowerShell carries the .NET SDK's token too: the module is what to upgrade.
    [
      'aws-sdk-dotnet-coreclr/3.3.600.0 .NET_Core/4.6 OS/Windows AWSPowerShell/4.0.0.0',
      'aws-tools-powershell',
      '4.0.0.0',
      '4.0.1.0',
      false,
    ],
    ['AWSPowerShell.NetCore/4.1.400.0 .NET_Core/6.0', 'aws-tools-powershell', '4.1.400.0', '4.0.1.0', true],
    ['amazon-ssm-agent/3.2.1297.0', 'amazon-ssm-agent', '3.2.1297.0', null, null],
    ['Cloud-Init/22.2.2', 'cloud-init', '22.2.2', null, null],
    ['curl/7.88.1', 'curl', '7.88.1', null, null],
    ['Python-urllib/3.11', 'python-urllib', '3.11', null, null],
    ['amazon-ec2-net-utils/2.4.1', 'amazon-ec2-net-utils', '2.4.1', null, null],
    ['Go-http-client/1.1', 'go-http-client', '1.1', null, null],
  ])('%s', (ua, name, version, min, supports) => {
    expect(sdkFromUserAgent(ua)).toEqual({ name, version, min_imdsv2_version: min, supports_imdsv2: supports });
  });

  it('says nothing without a User-Agent or for an unknown one', () => {
    expect(sdkFromUserAgent(null)).toBeNull();
    expect(sdkFromUserAgent('')).toBeNull();
    expect(sdkFromUserAgent('Mozilla/5.0 (X11; Linux x86_64)')).toBeNull();
    // A token inside another word is not that token.
    expect(sdkFromUserAgent('notcurl/8.0')).toBeNull();
    expect(sdkFromUserAgent('curl')).toBeNull();
  });

  it('survives hostile input', () => {
    expect(sdkFromUserAgent('curl/'.repeat(10_000))).toBeNull();
    expect(sdkFromUserAgent('\u0000\uffff botocore/1.13.25\r\n')).toMatchObject({
      name: 'botocore',
      supports_imdsv2: true,
    });
  });
});

describe('compareVersions', () => {
  it.each([
    ['1.13.25', '1.13.3', 1],
    ['1.13.3', '1.13.25', -1],
    ['2.722.0', '2.722', 0],
    ['3.3.634.1', '3.3.634', 1],
    ['0.19.0', '0.9.9', 1],
    ['1.11.678', '1.11.678', 0],
    ['2.10.21-SNAPSHOT', '2.10.21', 0],
  ])('%s vs %s', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});
