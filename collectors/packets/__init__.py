"""Packet collector: pcap/pcapng files and live capture into ECS network events (flows, DNS, HTTP, TLS,
ICMP, ARP, DHCP), with headers decoded by ``struct`` in the hot loop."""
