from tests.servers.moto import MotoServer


def test_moto_s3_round_trip(moto: MotoServer) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="bills")
    s3.put_object(Bucket="bills", Key="k", Body=b"hello")
    assert s3.get_object(Bucket="bills", Key="k")["Body"].read() == b"hello"
