# A test IMDS that resends: run inside the IMDS network namespace, it sends every IPv4 TCP
# segment from port 80 that starts an HTTP response a second time, byte for byte (same
# sequence numbers), the way a retransmission reaches the client. (netem is not in every
# test kernel.) Usage: resend-responses.py IFNAME   (the bridge port towards the client)
import socket
import struct
import sys

ETH_P_ALL = 0x0003


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack(f'!{len(data) // 2}H', data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.bind((sys.argv[1], 0))
print('ready', flush=True)
while True:
    frame, address = sock.recvfrom(65535)
    if address[2] != socket.PACKET_OUTGOING or frame[12:14] != b'\x08\x00' or frame[23] != 6:
        continue
    ihl = (frame[14] & 0x0F) * 4
    total_length = struct.unpack('!H', frame[16:18])[0]
    tcp = 14 + ihl
    if frame[tcp:tcp + 2] != b'\x00\x50':
        continue
    payload = tcp + (frame[tcp + 12] >> 4) * 4
    if frame[payload:payload + 7] != b'HTTP/1.':
        continue
    # The stack left the TCP checksum to the (virtual) NIC: compute it for the copy.
    segment = bytearray(frame[tcp:14 + total_length])
    segment[16:18] = b'\0\0'
    pseudo = frame[26:34] + struct.pack('!BBH', 0, 6, len(segment))
    segment[16:18] = struct.pack('!H', checksum(pseudo + bytes(segment)))
    sock.send(frame[:tcp] + bytes(segment))
