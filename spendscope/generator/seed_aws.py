"""Seed an S3-compatible endpoint (moto in tests and demos) with the generated AWS bill and a
realistic inventory: CUR deliveries in their bucket layout, and EC2/EBS/ELB resources of which some
are orphans (unattached volumes, an unassociated Elastic IP, a snapshot of a deleted volume, a stopped
instance with a disk, a load balancer with no targets). Never point it at a real account.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spendscope.generator.cur import CurResult, upload_tree

BUCKET = "spendscope-billing"


@dataclass(frozen=True, slots=True)
class SeededAws:
    bucket: str
    keys: tuple[str, ...]
    orphans: dict[str, list[str]]
    """kind → resource ids created as orphans."""


def seed_aws(cur: CurResult, *, endpoint_url: str, region: str = "us-east-1", bucket: str = BUCKET) -> SeededAws:
    import boto3

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint_url, region_name=region)

    keys: list[str] = []
    for root in (cur.cur2_root, cur.legacy_root):
        keys += upload_tree(Path(root), bucket=bucket, s3_client=client("s3"))
    ec2 = client("ec2")
    az = f"{region}a"
    tag = [{"ResourceType": "volume", "Tags": [{"Key": "team", "Value": "data"}]}]
    orphans: dict[str, list[str]] = {"ebs_volume": [], "elastic_ip": [], "ebs_snapshot": [], "ec2_instance": []}
    for size in (100, 500):
        orphans["ebs_volume"].append(
            ec2.create_volume(AvailabilityZone=az, Size=size, TagSpecifications=tag)["VolumeId"]
        )
    orphans["elastic_ip"].append(ec2.allocate_address(Domain="vpc")["AllocationId"])
    gone = ec2.create_volume(AvailabilityZone=az, Size=50)["VolumeId"]
    orphans["ebs_snapshot"].append(ec2.create_snapshot(VolumeId=gone, Description="before cleanup")["SnapshotId"])
    ec2.delete_volume(VolumeId=gone)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    running, stopped = (
        i["InstanceId"]
        for i in ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, InstanceType="t3.micro")["Instances"]
    )
    ec2.stop_instances(InstanceIds=[stopped])
    orphans["ec2_instance"].append(stopped)
    in_use = ec2.create_volume(AvailabilityZone=az, Size=20)["VolumeId"]
    ec2.attach_volume(VolumeId=in_use, InstanceId=running, Device="/dev/sdf")
    return SeededAws(bucket, tuple(keys), orphans)
