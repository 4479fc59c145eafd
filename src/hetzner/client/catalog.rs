//! Catalog calls of [`Client`]: server types, locations, images, pricing.

use crate::hetzner::error::ApiError;
use crate::hetzner::model::{
    Image, Location, Pricing, PricingEnvelope, ServerType, ServerTypeEnvelope,
};

use super::{Client, ImageListParams};

impl Client {
    /// All server types (`GET /server_types`, every page).
    pub async fn list_server_types(&self) -> Result<Vec<ServerType>, ApiError> {
        self.list_all("/server_types", Vec::new()).await
    }

    /// One server type (`GET /server_types/{id}`).
    pub async fn get_server_type(&self, id: i64) -> Result<ServerType, ApiError> {
        let env: ServerTypeEnvelope = self.get(&format!("/server_types/{id}"), &[]).await?;
        Ok(env.server_type)
    }

    /// All locations (`GET /locations`, every page).
    pub async fn list_locations(&self) -> Result<Vec<Location>, ApiError> {
        self.list_all("/locations", Vec::new()).await
    }

    /// Images matching `params` (`GET /images`, every page), e.g. system images for x86.
    pub async fn list_images(&self, params: &ImageListParams) -> Result<Vec<Image>, ApiError> {
        self.list_all("/images", params.to_query()).await
    }

    /// Prices of everything in the project's currency (`GET /pricing`).
    pub async fn get_pricing(&self) -> Result<Pricing, ApiError> {
        let env: PricingEnvelope = self.get("/pricing", &[]).await?;
        Ok(env.pricing)
    }
}
