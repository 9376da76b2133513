namespace IronAuth.Infra.Tests.Support;

/// <summary>Azure built-in role definition ids (the same in every tenant).</summary>
public static class RoleDefinitions
{
    public const string StorageBlobDataOwner = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
    public const string StorageTableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    public const string StorageQueueDataContributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88";
    public const string StorageAccountContributor = "17d1049b-9a84-46fb-8f53-869881c3d3ab";
    public const string KeyVaultSecretsUser = "4633458b-17de-408a-b874-0445c86b69e6";
}
